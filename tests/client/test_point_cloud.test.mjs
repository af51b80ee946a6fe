// client/PointCloud.js without a GPU: what update() keeps on the JS side (the grid, the textures,
// the count and centre) for each profile's frames, and what a change of size or profile replaces.
//
//   (cd client && npm install) && node --test tests/client/

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PointCloud } from '../../client/PointCloud.js';
import { codesToMillimetres, rawToMillimetres } from '../../client/decoder.js';

function header( width, height, nearMm = 500, farMm = 8000 ) {

	return { width, height, near_mm: nearMm, far_mm: farMm };

}

// A frame of one value, with a no-reading block in its top-left quarter.
function frame( ArrayType, width, height, value, noReading ) {

	const samples = new ArrayType( width * height ).fill( value );
	for ( let v = 0; v < height / 2; v ++ ) samples.fill( noReading, v * width, v * width + width / 2 );
	return samples;

}

function disposed( thing ) {

	const seen = { value: false };
	thing.addEventListener( 'dispose', () => {

		seen.value = true;

	} );
	return seen;

}

const PROFILE_FRAMES = [
	{ units: null, ArrayType: Uint8Array, width: 160, height: 120, value: 100, noReading: 255, mm: () => codesToMillimetres( 500, 8000 )[ 100 ] },
	{ units: 'raw', ArrayType: Uint16Array, width: 640, height: 480, value: 800, noReading: 2047, mm: () => rawToMillimetres()[ 800 ] },
	{ units: 'mm', ArrayType: Uint16Array, width: 320, height: 240, value: 2000, noReading: 0, mm: () => 2000 },
];

test( 'each profile hides its no-reading pixels and centres the cloud at the frame depth', () => {

	for ( const { units, ArrayType, width, height, value, noReading, mm } of PROFILE_FRAMES ) {

		const cloud = new PointCloud();
		cloud.update( header( width, height ), frame( ArrayType, width, height, value, noReading ), units );
		assert.equal( cloud.visibleCount, width * height * 3 / 4, `${units}` );
		assert.ok( Math.abs( cloud.centre.z + mm() / 1000 ) < 1e-4, `${units}: centre ${cloud.centre.z}` );
		// The hidden quarter is top-left, so the visible points' mean lies right of and below the axis.
		assert.ok( cloud.centre.x > 0 && cloud.centre.y < 0, `${units}` );
		assert.equal( cloud.geometry.getAttribute( 'position' ).count, width * height );
		assert.equal( cloud.material.uniforms.useLookup.value, units !== 'mm' );
		cloud.dispose();

	}

} );

test( 'a new frame size or profile replaces the grid and the depth texture, and frees the old ones', () => {

	const cloud = new PointCloud();
	let previous = null;
	for ( const { units, ArrayType, width, height, value, noReading } of PROFILE_FRAMES ) {

		const samples = frame( ArrayType, width, height, value, noReading );
		cloud.update( header( width, height ), samples, units );
		const texture = cloud.material.uniforms.depthMap.value;
		assert.equal( texture.image.width, width );
		assert.equal( texture.image.height, height );
		assert.equal( texture.image.data, samples, 'the samples are uploaded as the decoder gave them' );
		if ( previous !== null ) {

			assert.ok( previous.geometry.value, `${units}: the old grid was not freed` );
			assert.ok( previous.texture.value, `${units}: the old depth texture was not freed` );

		}

		previous = { geometry: disposed( cloud.geometry ), texture: disposed( texture ) };

	}

	// The same size and profile again: nothing is reallocated.
	const { units, ArrayType, width, height, value, noReading } = PROFILE_FRAMES[ 2 ];
	const geometry = cloud.geometry;
	cloud.update( header( width, height ), frame( ArrayType, width, height, value + 10, noReading ), units );
	assert.equal( cloud.geometry, geometry );
	assert.equal( previous.texture.value, false );

	cloud.dispose();
	assert.ok( previous.geometry.value && previous.texture.value );

} );

test( 'the motion cue unprojects through the same intrinsics as the points', () => {

	const cloud = new PointCloud();
	cloud.update( header( 640, 480 ), new Uint16Array( 640 * 480 ).fill( 1500 ), 'mm' );
	const centre = cloud.unproject( 0.5, 0.5, 1500 );
	assert.ok( Math.abs( centre.x ) < 1e-9 && Math.abs( centre.y ) < 1e-9 && centre.z === - 1.5 );
	// The flat frame's mean is on the optical axis too (cx, cy are the frame's centre).
	assert.ok( Math.abs( cloud.centre.x ) < 1e-4 && Math.abs( cloud.centre.y ) < 1e-4 );
	cloud.dispose();

} );
