// PointCloud: a decoded depth frame as a three.js Points object, in metres, coloured by depth or
// by the frame's own colour picture.
//
// Each pixel (u, v) with depth z is unprojected through the depth camera's intrinsics, so the cloud
// is the room at its true size and shape: x = (u − cx)·z/fx, y = −(v − cy)·z/fy, z = −z (the sensor
// at the origin looking down −Z, +Y up). Every profile is drawn: classic codes and raw disparity go
// through a table to metres, millimetres are scaled.
//
// The unprojection runs on the GPU (pointCloudShader.js): the frame's samples are uploaded as they
// come from the decoder into an integer texture, and the only vertex attribute is a fixed grid of
// pixel indices, allocated once per frame size. Measured in headless Chromium at 640 × 480 with
// bench/browser_render.py (main thread, median / p95 ms a frame): update 0.8 / 1.2 and render call
// 0.3 / 0.6, against 2.8 / 15.5 and 0.6 / 13.0 for writing a position and a colour array in JS and
// uploading those (3.7 MB a frame, not 0.6). JS still makes one pass over the samples, for the
// points' count and centre that the HUD and the follow camera need.
//
// A frame with a colour picture (FORMAT.md, *Attachments*; registered to the depth) colours each
// point from it: the picture is a texture the vertex shader samples at the pixel's centre, so
// colour costs no JS per point either. A frame with intrinsics is unprojected through them
// instead of the Kinect's.

import {
	BufferAttribute,
	BufferGeometry,
	Color,
	DataTexture,
	FloatType,
	LinearFilter,
	NearestFilter,
	Points,
	RedFormat,
	Sphere,
	RedIntegerFormat,
	SRGBColorSpace,
	ShaderMaterial,
	Texture,
	UniformsLib,
	UniformsUtils,
	UnsignedByteType,
	UnsignedShortType,
	Vector2,
	Vector3,
} from 'three';

import { codesToMillimetres, rawToMillimetres } from './decoder.js';
import { fragmentShader, vertexShader } from './pointCloudShader.js';

// Kinect v1 depth camera at 640 × 480 (the usual published calibration: OpenKinect, Burrus).
const KINECT_DEPTH_INTRINSICS = Object.freeze( {
	width: 640, // px
	height: 480, // px
	fx: 594.2, // px
	fy: 591.0, // px
	cx: 319.5, // px
	cy: 239.5, // px
} );

// The depth ramp, near to far: warm yellow, orange, magenta, blue (readable on the dark background).
// Stops are sRGB hex, as a designer picks them; three.js turns them into its linear working space.
const RAMP_STOPS = [
	[ 0.00, new Color( '#ffe066' ) ],
	[ 0.30, new Color( '#fa7f38' ) ],
	[ 0.60, new Color( '#cc3885' ) ],
	[ 1.00, new Color( '#4852db' ) ],
];

const METRES_PER_MM = 0.001;
const MM_VALUES = 65536; // a u16 millimetre sample takes this many values
// Every point a frame can hold lies within this distance of the sensor, metres (65.535 m, the
// largest u16 millimetre depth, at the corner of a frame whose |u − cx| / fx is under 1): the
// bounding sphere three.js sorts by, given so it never computes one from the (u, v) grid as if it
// were positions (it logged "computeBoundingSphere(): Computed radius is NaN" on every load).
const REACH = 100; // m

// The tables from a sample to metres (0 = no reading), made when first needed: raw disparity has
// one, the same for every stream; millimetres have one for the JS pass (the shader just scales).
let metresByRaw = null;
let metresByMm = null;

function tableInMetres( millimetres ) {

	return Float32Array.from( millimetres, ( mm ) => mm * METRES_PER_MM );

}

const _drawingBufferSize = new Vector2();

class PointCloud extends Points {

	constructor() {

		const uniforms = UniformsUtils.merge( [ UniformsLib.fog, {
			depthMap: { value: null },
			metresByValue: { value: null },
			useLookup: { value: false },
			metresPerValue: { value: METRES_PER_MM },
			focal: { value: new Vector2( 1, 1 ) },
			principal: { value: new Vector2() },
			size: { value: 1 },
			scale: { value: 1 },
			minSize: { value: 1 },
			colourNear: { value: 0 },
			colourFar: { value: 1 },
			rampColours: { value: RAMP_STOPS.map( ( [ , colour ] ) => colour.clone() ) },
			rampStops: { value: RAMP_STOPS.map( ( [ stop ] ) => stop ) },
			colourMap: { value: null },
			useColourMap: { value: false },
		} ] );
		const material = new ShaderMaterial( { uniforms, vertexShader, fragmentShader, fog: true } );
		super( new BufferGeometry(), material );

		/** Depth camera intrinsics at their native size (px); frames are scaled from it. */
		this.intrinsics = KINECT_DEPTH_INTRINSICS;
		/** A point's size as a multiple of its pixel's footprint; above 1 closes the gaps. Default 2.5. */
		this.pointScale = 2.5;
		/**
		 * The smallest a point is drawn, drawing-buffer pixels: at 640 × 480 a pixel's footprint is
		 * under a screen pixel from across the room, and depth noise seen from the side opens holes
		 * between such points. Default 2.
		 */
		this.minPointSize = 2;
		/** Depth given the ramp's first colour, metres. Default 0.5. */
		this.colourNear = 0.5;
		/** Depth given the ramp's last colour (and beyond), metres. Default 4.5. */
		this.colourFar = 4.5;
		/**
		 * Colour the points from the frame's colour picture when it has one (true), or by depth
		 * always (false). Default true.
		 */
		this.trueColour = true;

		/** Whether the last frame was drawn in its picture's colours. Read-only. */
		this.showingColour = false;

		/** Points drawn (pixels with a reading) in the last frame. Read-only. */
		this.visibleCount = 0;
		/** Mean position of the visible points in the last frame, metres, local coordinates. Read-only. */
		this.centre = new Vector3( 0, 0, - 2.5 );

		// The points move every frame: a bounding sphere would need recomputing each time to cull.
		this.frustumCulled = false;

		this._width = 0;
		this._height = 0;
		this._sampleType = null; // the typed array class of the frames the depth texture holds
		this._depthTexture = null;
		this._lookupTexture = null;
		this._valueKey = ''; // units, near_mm, far_mm of the table in use
		this._metresByValue = null; // sample → metres for the JS pass
		this._fx = 1;
		this._fy = 1;
		this._cx = 0;
		this._cy = 0;
		this._xPerMetre = null; // per column: (u − cx) / fx
		this._yPerMetre = null; // per row: −(v − cy) / fy
		this._defaultLens = null; // the Kinect's intrinsics at the frame's size
		this._lensKey = ''; // the intrinsics in use, as text
		this._colourTexture = null; // the frame's colour picture (an ImageBitmap inside)

	}

	/**
	 * Replace the points with a decoded frame (StreamDecoder.decode's fields): its header (width,
	 * height, near_mm, far_mm), its samples (width × height, row-major) and their units: null for
	 * classic codes (Uint8Array, 255 = no reading), 'raw' for Kinect disparity (Uint16Array, 2047 =
	 * no reading), 'mm' for millimetres (Uint16Array, 0 = no reading). The samples are uploaded as
	 * they are, at the next render: don't change them afterwards. `attachments`: the frame's
	 * `intrinsics` ({fx, fy, cx, cy} at its size; null: the Kinect's) and `colour`, its picture
	 * decoded (an ImageBitmap registered to the frame, or null); the cloud takes the bitmap over
	 * and closes it when the next one comes.
	 */
	update( header, codes, units = null, { intrinsics = null, colour = null } = {} ) {

		if ( header.width !== this._width || header.height !== this._height || codes.constructor !== this._sampleType ) {

			this._allocate( header.width, header.height, codes.constructor );

		}

		this._useLens( intrinsics || this._defaultLens );
		this._usePicture( colour );

		const valueKey = `${units} ${header.near_mm} ${header.far_mm}`;
		if ( valueKey !== this._valueKey ) this._tabulate( units, header.near_mm, header.far_mm, valueKey );

		const texture = this._depthTexture;
		texture.image.data = codes;
		texture.needsUpdate = true;

		const uniforms = this.material.uniforms;
		uniforms.colourNear.value = this.colourNear;
		uniforms.colourFar.value = this.colourFar;
		uniforms.size.value = this.pointScale / this._fx;
		uniforms.minSize.value = this.minPointSize;

		this._measure( codes );

	}

	/**
	 * The local 3D point (metres) of a spot in the frame: u and v as fractions of the width and
	 * height (pixel centres at (u + 0.5) / width, as FORMAT.md's motion cue gives them), depth in mm.
	 */
	unproject( uFraction, vFraction, depthMm, target = new Vector3() ) {

		const z = depthMm / 1000;
		const u = uFraction * this._width - 0.5;
		const v = vFraction * this._height - 0.5;
		return target.set( ( u - this._cx ) * z / this._fx, - ( v - this._cy ) * z / this._fy, - z );

	}

	/**
	 * The last frame's points, local metres, in row-major pixel order: `{ positions, pixels, count }`
	 * with `positions` x, y, z for each point with a reading and `pixels` its index in the frame
	 * (row · width + column), for a per-pixel colour. Computed when asked (a snapshot, a view fit).
	 */
	getPoints() {

		const codes = this._depthTexture === null ? [] : this._depthTexture.image.data;
		const metresByValue = this._metresByValue;
		const width = this._width;
		const positions = new Float32Array( this.visibleCount * 3 );
		const pixels = new Uint32Array( this.visibleCount );
		let count = 0;
		for ( let pixel = 0; pixel < codes.length && count < this.visibleCount; pixel ++ ) {

			const z = metresByValue[ codes[ pixel ] ];
			if ( ! ( z > 0 ) ) continue;
			const v = Math.floor( pixel / width );
			positions[ count * 3 ] = this._xPerMetre[ pixel - v * width ] * z;
			positions[ count * 3 + 1 ] = this._yPerMetre[ v ] * z;
			positions[ count * 3 + 2 ] = - z;
			pixels[ count ] = pixel;
			count ++;

		}

		return { positions, pixels, count };

	}

	onBeforeRender( renderer ) {

		// PointsMaterial's own attenuation scale: half the drawing buffer's height, in pixels.
		this.material.uniforms.scale.value = renderer.getDrawingBufferSize( _drawingBufferSize ).y / 2;

	}

	/** Free the GPU buffers, textures and the material. */
	dispose() {

		this.geometry.dispose();
		this.material.dispose();
		if ( this._depthTexture ) this._depthTexture.dispose();
		if ( this._lookupTexture ) this._lookupTexture.dispose();
		this._depthTexture = null;
		this._lookupTexture = null;
		this._usePicture( null );

	}

	// The frame's picture as the colour texture (a new texture when its size changes), or none.
	_usePicture( bitmap ) {

		const uniforms = this.material.uniforms;
		let texture = this._colourTexture;
		if ( bitmap === null ) {

			if ( texture ) {

				if ( texture.image && texture.image.close ) texture.image.close();
				texture.dispose();

			}

			this._colourTexture = null;
			uniforms.colourMap.value = null;
			uniforms.useColourMap.value = false;
			this.showingColour = false;
			return;

		}

		if ( texture === null || texture.image.width !== bitmap.width || texture.image.height !== bitmap.height ) {

			this._usePicture( null );
			texture = new Texture();
			// An ImageBitmap is uploaded top row first, as it is, and the shader samples it so.
			texture.flipY = false;
			texture.generateMipmaps = false;
			texture.minFilter = texture.magFilter = LinearFilter;
			texture.colorSpace = SRGBColorSpace;
			this._colourTexture = texture;

		} else if ( texture.image.close ) {

			texture.image.close();

		}

		texture.image = bitmap;
		texture.needsUpdate = true;
		uniforms.colourMap.value = texture;
		uniforms.useColourMap.value = this.trueColour;
		this.showingColour = this.trueColour;

	}

	// The intrinsics ({fx, fy, cx, cy} at the frame's size) the points are unprojected through.
	_useLens( { fx, fy, cx, cy } ) {

		const key = `${fx} ${fy} ${cx} ${cy}`;
		if ( key === this._lensKey ) return;
		this._lensKey = key;
		this._fx = fx;
		this._fy = fy;
		this._cx = cx;
		this._cy = cy;
		this._xPerMetre = Float32Array.from( { length: this._width }, ( _, u ) => ( u - cx ) / fx );
		this._yPerMetre = Float32Array.from( { length: this._height }, ( _, v ) => - ( v - cy ) / fy );
		const uniforms = this.material.uniforms;
		uniforms.focal.value.set( fx, fy );
		uniforms.principal.value.set( cx, cy );

	}

	// One pass over the samples: how many have a reading, and where their mean lies.
	_measure( codes ) {

		const metresByValue = this._metresByValue;
		const xPerMetre = this._xPerMetre;
		const yPerMetre = this._yPerMetre;
		const width = this._width;
		const height = this._height;
		let count = 0;
		let sumX = 0, sumY = 0, sumZ = 0;
		for ( let v = 0, pixel = 0; v < height; v ++ ) {

			let rowX = 0, rowZ = 0;
			for ( let u = 0; u < width; u ++, pixel ++ ) {

				const z = metresByValue[ codes[ pixel ] ];
				if ( ! ( z > 0 ) ) continue; // 0: no reading; undefined: a value beyond the table
				rowX += xPerMetre[ u ] * z;
				rowZ += z;
				count ++;

			}

			sumX += rowX;
			sumY += yPerMetre[ v ] * rowZ;
			sumZ -= rowZ;

		}

		this.visibleCount = count;
		if ( count > 0 ) this.centre.set( sumX / count, sumY / count, sumZ / count );

	}

	_allocate( width, height, sampleType ) {

		this._width = width;
		this._height = height;
		this._sampleType = sampleType;

		// The grid of pixel indices (u, v): the one vertex attribute, the same for every frame.
		const grid = new Uint16Array( width * height * 2 );
		for ( let v = 0, item = 0; v < height; v ++ ) {

			for ( let u = 0; u < width; u ++, item += 2 ) {

				grid[ item ] = u;
				grid[ item + 1 ] = v;

			}

		}

		const geometry = new BufferGeometry();
		geometry.setAttribute( 'position', new BufferAttribute( grid, 2 ) );
		geometry.boundingSphere = new Sphere( new Vector3(), REACH );
		this.geometry.dispose();
		this.geometry = geometry;

		// An integer texture holds the samples exactly, with no conversion in JS.
		const type = sampleType === Uint8Array ? UnsignedByteType : UnsignedShortType;
		const texture = new DataTexture( new sampleType( width * height ), width, height, RedIntegerFormat, type );
		texture.unpackAlignment = 1;
		if ( this._depthTexture ) this._depthTexture.dispose();
		this._depthTexture = texture;
		this.material.uniforms.depthMap.value = texture;

		// A frame pixel is a block of sensor pixels: its centre, not its corner, is scaled, so
		// cx' = (cx + ½)·s − ½ (79.5 for 160 columns, the centre of sensor column 4u + 1.5).
		const { intrinsics } = this;
		const scaleX = width / intrinsics.width;
		const scaleY = height / intrinsics.height;
		this._defaultLens = Object.freeze( {
			fx: intrinsics.fx * scaleX,
			fy: intrinsics.fy * scaleY,
			cx: ( intrinsics.cx + 0.5 ) * scaleX - 0.5,
			cy: ( intrinsics.cy + 0.5 ) * scaleY - 0.5,
		} );
		this._lensKey = '';

	}

	_tabulate( units, nearMm, farMm, valueKey ) {

		this._valueKey = valueKey;
		const uniforms = this.material.uniforms;
		if ( units === 'mm' ) {

			if ( metresByMm === null ) metresByMm = Float32Array.from( { length: MM_VALUES }, ( _, mm ) => mm * METRES_PER_MM );
			this._metresByValue = metresByMm;
			uniforms.useLookup.value = false;
			return;

		}

		if ( units === 'raw' ) {

			if ( metresByRaw === null ) metresByRaw = tableInMetres( rawToMillimetres() );
			this._metresByValue = metresByRaw;

		} else {

			this._metresByValue = tableInMetres( codesToMillimetres( nearMm, farMm ) );

		}

		const table = this._metresByValue;
		const texture = new DataTexture( table, table.length, 1, RedFormat, FloatType );
		texture.minFilter = texture.magFilter = NearestFilter;
		texture.needsUpdate = true;
		if ( this._lookupTexture ) this._lookupTexture.dispose();
		this._lookupTexture = texture;
		uniforms.metresByValue.value = texture;
		uniforms.useLookup.value = true;

	}

}

export { PointCloud };
