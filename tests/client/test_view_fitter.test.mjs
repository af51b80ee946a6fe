// client/ViewFitter.js without a browser: for clouds of many shapes and screens of many aspect
// ratios, every point projects inside the fitted view, the fit is tight, and the slack it reports
// can be panned without cutting anything off.
//
//   (cd client && npm install) && node --test tests/client/

import assert from 'node:assert/strict';
import { test } from 'node:test';

// The client's own copy of three.js, the one ViewFitter.js resolves 'three' to.
import { PerspectiveCamera, Vector3 } from '../../client/node_modules/three/build/three.module.js';

import { ViewFitter } from '../../client/ViewFitter.js';

// A cloud in the sensor's frame: `count` points at depths near..far inside a frustum of the given
// half-angles' tangents, shifted sideways (a deterministic pseudo-random spread).
function cloud( count, near, far, tanX, tanY, shiftX = 0 ) {

	const positions = new Float32Array( count * 3 );
	let seed = 12345;
	const random = () => ( seed = ( seed * 16807 ) % 2147483647 ) / 2147483647;
	for ( let i = 0; i < count; i ++ ) {

		const z = near + ( far - near ) * random();
		positions[ i * 3 ] = ( 2 * random() - 1 ) * tanX * z + shiftX;
		positions[ i * 3 + 1 ] = ( 2 * random() - 1 ) * tanY * z;
		positions[ i * 3 + 2 ] = - z;

	}

	return positions;

}

// The largest |NDC x| and |NDC y| of the points seen from a camera at `position` looking down −Z.
function extent( positions, camera, position ) {

	camera.position.copy( position );
	camera.lookAt( position.x, position.y, position.z - 1 );
	camera.updateMatrixWorld();
	let x = 0, y = 0;
	const point = new Vector3();
	for ( let i = 0; i < positions.length; i += 3 ) {

		point.fromArray( positions, i ).project( camera );
		x = Math.max( x, Math.abs( point.x ) );
		y = Math.max( y, Math.abs( point.y ) );

	}

	return { x, y };

}

const SCREENS = [ [ 390, 844 ], [ 1280, 800 ], [ 800, 600 ], [ 2560, 600 ] ];
const CLOUDS = {
	'a room': cloud( 2000, 1.0, 5.0, 0.53, 0.41 ),
	'a close-up': cloud( 2000, 0.5, 1.0, 0.53, 0.41 ),
	'a tall narrow thing off to the side': cloud( 2000, 2.0, 2.2, 0.05, 0.4, 0.8 ),
};

for ( const [ width, height ] of SCREENS ) {

	for ( const [ name, positions ] of Object.entries( CLOUDS ) ) {

		test( `${name} fills a ${width} × ${height} view, nothing cut off`, () => {

			const camera = new PerspectiveCamera( 60, width / height, 0.05, 50 );
			camera.updateProjectionMatrix();
			const fitter = new ViewFitter();
			const fit = fitter.fit( positions, positions.length / 3, camera );
			const seen = extent( positions, camera, fit.position );
			// Inside the fill share on both axes, and touching it on one: as near as it can be.
			assert.ok( seen.x <= fitter.fill + 1e-4 && seen.y <= fitter.fill + 1e-4, JSON.stringify( seen ) );
			assert.ok( Math.max( seen.x, seen.y ) > fitter.fill - 1e-3, JSON.stringify( seen ) );
			assert.ok( fit.nearest > 0 && fit.farthest > fit.nearest );
			// Panning by the slack in any direction keeps every point on screen.
			for ( const angle of [ 0, 0.7, 1.6, 2.5, 3.3, 4.4, 5.5 ] ) {

				const panned = fit.position.clone().add( new Vector3( Math.cos( angle ), Math.sin( angle ), 0 ).multiplyScalar( fit.slack ) );
				const after = extent( positions, camera, panned );
				assert.ok( after.x <= 1 + 1e-4 && after.y <= 1 + 1e-4, `${angle}: ${JSON.stringify( after )}` );

			}

			assert.ok( fit.slack > 0 );

		} );

	}

}

test( 'no points, no fit', () => {

	assert.equal( new ViewFitter().fit( new Float32Array( 0 ), 0, new PerspectiveCamera() ), null );

} );
