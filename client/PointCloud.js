// PointCloud: a decoded depth frame as a three.js Points object, in metres, coloured by depth.
//
// Each pixel (u, v) with depth z is unprojected through the depth camera's intrinsics, so the cloud
// is the room at its true size and shape (the 2012 client drew a fixed grid instead). The sensor
// sits at the origin looking down −Z, +Y up: x = (u − cx)·z/fx, y = −(v − cy)·z/fy, z = −z.
//
// Pixels with no reading are left out by packing the visible points at the front of the buffers and
// drawing only those (drawRange): no discard, NaN or zero-size tricks, so it draws the same in
// WebGL 1, WebGL 2 and SwiftShader, and keeps PointsMaterial's fog and vertex colours.

import {
	BufferAttribute,
	BufferGeometry,
	Color,
	DynamicDrawUsage,
	Points,
	PointsMaterial,
	Vector3,
} from 'three';

import { codesToMillimetres } from './decoder.js';

const NO_READING_CODE = 255;

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

class PointCloud extends Points {

	constructor() {

		const material = new PointsMaterial( { vertexColors: true, sizeAttenuation: true } );
		super( new BufferGeometry(), material );

		/** Depth camera intrinsics at their native size (px); frames are scaled from it. */
		this.intrinsics = KINECT_DEPTH_INTRINSICS;
		/** A point's size as a multiple of its pixel's footprint; above 1 closes the gaps. Default 2.5. */
		this.pointScale = 2.5;
		/** Depth given the ramp's first colour, metres. Default 0.5. */
		this.colourNear = 0.5;
		/** Depth given the ramp's last colour (and beyond), metres. Default 4.5. */
		this.colourFar = 4.5;

		/** Points drawn (pixels with a reading) in the last frame. Read-only. */
		this.visibleCount = 0;
		/** Mean position of the visible points in the last frame, metres, local coordinates. Read-only. */
		this.centre = new Vector3( 0, 0, - 2.5 );

		// The points move every frame: a bounding sphere would need recomputing each time to cull.
		this.frustumCulled = false;

		this._width = 0;
		this._height = 0;
		this._nearMm = 0;
		this._farMm = 0;
		this._fx = 1;
		this._fy = 1;
		this._cx = 0;
		this._cy = 0;
		this._xPerMetre = null; // per column: (u − cx) / fx
		this._yPerMetre = null; // per row: −(v − cy) / fy
		this._metresByCode = new Float32Array( NO_READING_CODE + 1 );
		this._colourByCode = new Uint8Array( ( NO_READING_CODE + 1 ) * 3 );

		// A point of world size s at distance d gets s·(scale/d) pixels from PointsMaterial; making
		// s proportional to the point's own depth (its pixel's footprint) sizes points as the sensor
		// saw them, whatever their distance. -position.z is that depth in the cloud's frame.
		material.onBeforeCompile = ( shader ) => {

			shader.vertexShader = shader.vertexShader.replace(
				'gl_PointSize = size;',
				'gl_PointSize = size * max( - position.z, 0.0 );'
			);

		};

		material.customProgramCacheKey = () => 'depthcam-point-cloud';

	}

	/**
	 * Replace the points with a decoded frame: its header (width, height, near_mm, far_mm) and its
	 * codes (Uint8Array, width × height, 255 = no reading). Buffers are reused while the size holds.
	 */
	update( header, codes ) {

		if ( header.width !== this._width || header.height !== this._height ) this._allocate( header.width, header.height );
		if ( header.near_mm !== this._nearMm || header.far_mm !== this._farMm ) this._tabulate( header.near_mm, header.far_mm );

		const positionAttribute = this.geometry.getAttribute( 'position' );
		const colourAttribute = this.geometry.getAttribute( 'color' );
		const positions = positionAttribute.array;
		const colours = colourAttribute.array;
		const metresByCode = this._metresByCode;
		const colourByCode = this._colourByCode;
		const xPerMetre = this._xPerMetre;
		const yPerMetre = this._yPerMetre;
		const width = this._width;
		const height = this._height;

		let count = 0;
		let sumX = 0, sumY = 0, sumZ = 0;
		for ( let v = 0, pixel = 0; v < height; v ++ ) {

			const yFactor = yPerMetre[ v ];
			for ( let u = 0; u < width; u ++, pixel ++ ) {

				const code = codes[ pixel ];
				if ( code === NO_READING_CODE ) continue;
				const z = metresByCode[ code ];
				const x = xPerMetre[ u ] * z;
				const y = yFactor * z;
				const item = count * 3;
				positions[ item ] = x;
				positions[ item + 1 ] = y;
				positions[ item + 2 ] = - z;
				const colour = code * 3;
				colours[ item ] = colourByCode[ colour ];
				colours[ item + 1 ] = colourByCode[ colour + 1 ];
				colours[ item + 2 ] = colourByCode[ colour + 2 ];
				sumX += x;
				sumY += y;
				sumZ -= z;
				count ++;

			}

		}

		this.visibleCount = count;
		if ( count > 0 ) this.centre.set( sumX / count, sumY / count, sumZ / count );
		this.geometry.setDrawRange( 0, count );
		for ( const attribute of [ positionAttribute, colourAttribute ] ) {

			attribute.clearUpdateRanges();
			attribute.addUpdateRange( 0, Math.max( count, 1 ) * 3 );
			attribute.needsUpdate = true;

		}

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

	/** Free the GPU buffers and the material. */
	dispose() {

		this.geometry.dispose();
		this.material.dispose();

	}

	_allocate( width, height ) {

		this._width = width;
		this._height = height;
		const pixels = width * height;
		const geometry = new BufferGeometry();
		geometry.setAttribute( 'position', new BufferAttribute( new Float32Array( pixels * 3 ), 3 ).setUsage( DynamicDrawUsage ) );
		geometry.setAttribute( 'color', new BufferAttribute( new Uint8Array( pixels * 3 ), 3, true ).setUsage( DynamicDrawUsage ) );
		geometry.setDrawRange( 0, 0 );
		this.geometry.dispose();
		this.geometry = geometry;

		// A frame pixel is a block of sensor pixels: its centre, not its corner, is scaled, so
		// cx' = (cx + ½)·s − ½ (79.5 for 160 columns, the centre of sensor column 4u + 1.5).
		const { intrinsics } = this;
		const scaleX = width / intrinsics.width;
		const scaleY = height / intrinsics.height;
		this._fx = intrinsics.fx * scaleX;
		this._fy = intrinsics.fy * scaleY;
		this._cx = ( intrinsics.cx + 0.5 ) * scaleX - 0.5;
		this._cy = ( intrinsics.cy + 0.5 ) * scaleY - 0.5;
		this._xPerMetre = Float32Array.from( { length: width }, ( _, u ) => ( u - this._cx ) / this._fx );
		this._yPerMetre = Float32Array.from( { length: height }, ( _, v ) => - ( v - this._cy ) / this._fy );

		// The footprint of one frame pixel at 1 m is 1/fx metres.
		this.material.size = this.pointScale / this._fx;

	}

	_tabulate( nearMm, farMm ) {

		this._nearMm = nearMm;
		this._farMm = farMm;
		const millimetres = codesToMillimetres( nearMm, farMm );
		const colour = new Color();
		for ( let code = 0; code <= NO_READING_CODE; code ++ ) {

			const metres = millimetres[ code ] / 1000;
			this._metresByCode[ code ] = metres;
			const t = ( metres - this.colourNear ) / ( this.colourFar - this.colourNear );
			rampColour( Math.min( Math.max( t, 0 ), 1 ), colour );
			this._colourByCode[ code * 3 ] = Math.round( colour.r * 255 );
			this._colourByCode[ code * 3 + 1 ] = Math.round( colour.g * 255 );
			this._colourByCode[ code * 3 + 2 ] = Math.round( colour.b * 255 );

		}

	}

}

function rampColour( t, target ) {

	for ( let i = 1; i < RAMP_STOPS.length; i ++ ) {

		const [ end, endColour ] = RAMP_STOPS[ i ];
		if ( t <= end || i === RAMP_STOPS.length - 1 ) {

			const [ start, startColour ] = RAMP_STOPS[ i - 1 ];
			return target.copy( startColour ).lerp( endColour, ( t - start ) / ( end - start ) );

		}

	}

	return target;

}

export { PointCloud };
