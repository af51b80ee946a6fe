// ViewFitter: where a camera looking along the depth sensor's axis must stand to show a whole cloud.
//
// The camera keeps the sensor's direction (down −Z, +Y up), so the first view is the scene as the
// sensor saw it, and moves sideways, up and back until every point lies inside the viewport, with
// a margin. For a point p and a camera at c, p is in view when |p.x − c.x| ≤ tanH · (c.z − p.z) and
// the same with y and tanV; each bound gives c.z ≥ a − c.x / tanH and c.z ≥ b + c.x / tanH, with a
// and b maxima over the points, so the nearest camera that satisfies both is exact:
// c.x = (a − b) · tanH / 2, c.z = (a + b) / 2 (likewise in y; the larger c.z wins). The result
// depends only on the points, the field of view and the aspect ratio: a close-up, a room, a
// portrait phone and a wide desktop each get their own. The margin left by `fill` is measured as
// `slack`: how far the camera may then pan sideways, in any direction, and still cut nothing off.

import { MathUtils, Vector3 } from 'three';

class ViewFitter {

	constructor() {

		/** Share of the viewport's half-width and half-height the cloud may use, 0…1. Default 0.85. */
		this.fill = 0.85;

	}

	/**
	 * Fit `count` points (x, y, z triples in `positions`, the cloud's local metres; the cloud must
	 * sit untransformed in the scene) to a PerspectiveCamera's `fov` and `aspect`.
	 * @returns {{ position: Vector3, target: Vector3, nearest: number, farthest: number, slack: number } | null}
	 *   where the camera stands, the point on its axis at the cloud's mean depth (the orbit
	 *   centre), the cloud's nearest and farthest distance along the axis, and how far the camera
	 *   and its target may move sideways together with every point still in view, metres; null
	 *   for no points.
	 */
	fit( positions, count, camera ) {

		if ( count === 0 ) return null;
		const fullTanV = Math.tan( MathUtils.degToRad( camera.fov / 2 ) );
		const fullTanH = fullTanV * camera.aspect;
		const tanV = fullTanV * this.fill;
		const tanH = tanV * camera.aspect;
		let right = - Infinity, left = - Infinity, top = - Infinity, bottom = - Infinity;
		let nearestZ = - Infinity, farthestZ = Infinity, sumZ = 0;
		for ( let i = 0; i < count * 3; i += 3 ) {

			const x = positions[ i ], y = positions[ i + 1 ], z = positions[ i + 2 ];
			right = Math.max( right, z + x / tanH );
			left = Math.max( left, z - x / tanH );
			top = Math.max( top, z + y / tanV );
			bottom = Math.max( bottom, z - y / tanV );
			nearestZ = Math.max( nearestZ, z );
			farthestZ = Math.min( farthestZ, z );
			sumZ += z;

		}

		const x = ( right - left ) * tanH / 2;
		const y = ( top - bottom ) * tanV / 2;
		// Never closer than the near plane to the nearest point (a cloud with no width at all).
		const z = Math.max( ( right + left ) / 2, ( top + bottom ) / 2, nearestZ + 2 * camera.near );
		let slack = Infinity;
		for ( let i = 0; i < count * 3; i += 3 ) {

			const distance = z - positions[ i + 2 ];
			slack = Math.min( slack,
				fullTanH * distance - Math.abs( positions[ i ] - x ),
				fullTanV * distance - Math.abs( positions[ i + 1 ] - y ) );

		}

		return {
			position: new Vector3( x, y, z ),
			slack: Math.max( slack, 0 ),
			target: new Vector3( x, y, Math.min( sumZ / count, z - camera.near ) ),
			nearest: z - nearestZ,
			farthest: z - farthestZ,
		};

	}

}

export { ViewFitter };
