// client/PointCloud.js with a frame's attachments, without a GPU: the colour picture becomes the
// shader's colour texture (or not, with trueColour off), and intrinsics replace the Kinect's.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PointCloud } from '../../client/PointCloud.js';

const HEADER = Object.freeze( { width: 160, height: 120, near_mm: 500, far_mm: 8000 } );

// What update() needs of an ImageBitmap: its size and close().
function bitmap( width = 160, height = 120 ) {

	return { width, height, closed: false, close() {

		this.closed = true;

	} };

}

function codes( value = 100 ) {

	return new Uint8Array( HEADER.width * HEADER.height ).fill( value );

}

test( 'a colour picture becomes the colour texture, and the previous bitmap is closed', () => {

	const cloud = new PointCloud();
	const first = bitmap();
	cloud.update( HEADER, codes(), null, { colour: first } );
	const uniforms = cloud.material.uniforms;
	assert.equal( uniforms.useColourMap.value, true );
	assert.equal( uniforms.colourMap.value.image, first );
	assert.equal( cloud.showingColour, true );
	const second = bitmap();
	cloud.update( HEADER, codes(), null, { colour: second } );
	assert.equal( first.closed, true );
	assert.equal( uniforms.colourMap.value.image, second );
	// A depth-only frame goes back to the depth ramp.
	cloud.update( HEADER, codes(), null );
	assert.equal( uniforms.useColourMap.value, false );
	assert.equal( second.closed, true );
	assert.equal( cloud.showingColour, false );
	cloud.dispose();

} );

test( 'a picture of another size gets a new texture', () => {

	const cloud = new PointCloud();
	cloud.update( HEADER, codes(), null, { colour: bitmap() } );
	const texture = cloud.material.uniforms.colourMap.value;
	cloud.update( HEADER, codes(), null, { colour: bitmap( 320, 240 ) } );
	assert.notEqual( cloud.material.uniforms.colourMap.value, texture );
	cloud.dispose();

} );

test( 'trueColour off draws depth colours even when the frame has a picture', () => {

	const cloud = new PointCloud();
	cloud.trueColour = false;
	cloud.update( HEADER, codes(), null, { colour: bitmap() } );
	assert.equal( cloud.material.uniforms.useColourMap.value, false );
	assert.equal( cloud.showingColour, false );
	cloud.dispose();

} );

test( 'intrinsics replace the Kinect lens, and a frame without them returns to it', () => {

	const cloud = new PointCloud();
	cloud.update( HEADER, codes(), null );
	const kinect = cloud.material.uniforms.focal.value.clone();
	assert.ok( Math.abs( kinect.x - 594.2 / 4 ) < 1e-9 );
	cloud.update( HEADER, codes(), null, { intrinsics: { fx: 146.25, fy: 146.25, cx: 40, cy: 59.625 } } );
	assert.deepEqual( cloud.material.uniforms.focal.value.toArray(), [ 146.25, 146.25 ] );
	assert.deepEqual( cloud.material.uniforms.principal.value.toArray(), [ 40, 59.625 ] );
	// The principal point left of centre puts the mean of a flat wall right of the axis.
	assert.ok( cloud.centre.x > 0.1 );
	const depth = - cloud.unproject( 0.5, 0.5, 2000 ).z;
	assert.equal( depth, 2 );
	cloud.update( HEADER, codes(), null );
	assert.deepEqual( cloud.material.uniforms.focal.value.toArray(), kinect.toArray() );
	cloud.dispose();

} );
