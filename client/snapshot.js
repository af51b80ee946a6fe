// snapshot: saves what the viewer shows as files the browser downloads: the frame's points as a PLY
// (metres, in the depth sensor's frame: origin at the sensor, −Z forward, +Y up) and the picture as a PNG.

import { exportPly } from './PlyExporter.js';

/** Make the browser download `blob` as `name`. */
function download( blob, name ) {

	const url = URL.createObjectURL( blob );
	const link = document.createElement( 'a' );
	link.href = url;
	link.download = name;
	document.body.append( link );
	link.click();
	link.remove();
	// The download has its own copy once it started; the object URL can go a moment later.
	setTimeout( () => URL.revokeObjectURL( url ), 1000 );

}

/**
 * Download the current frame as `depthcam-<sequence>.ply` and `.png`.
 * @param {object} frame
 * @param {PointCloud} frame.cloud the cloud on screen (its getPoints()).
 * @param {HTMLCanvasElement} frame.canvas the WebGL canvas (made with preserveDrawingBuffer).
 * @param {number} frame.sequence the frame's sequence number, for the file names.
 * @param {string} frame.description the header comment: where the frame came from.
 * @param {function(Uint32Array): Uint8Array|null} [frame.coloursOf] sRGB colours of these pixels
 *   (row-major indices), when the stream has colour.
 * @returns {Promise<void>} resolved once both downloads have started.
 */
async function saveSnapshot( { cloud, canvas, sequence, description, coloursOf = () => null } ) {

	const { positions, pixels, count } = cloud.getPoints();
	const ply = exportPly( positions, count, {
		colours: coloursOf( pixels ),
		comments: [ description, 'units: metres; depth sensor at the origin looking down -Z, +Y up' ],
	} );
	const name = `depthcam-${sequence}`;
	download( new Blob( [ ply ], { type: 'application/octet-stream' } ), `${name}.ply` );
	const png = await new Promise( ( resolve ) => canvas.toBlob( resolve, 'image/png' ) );
	download( png, `${name}.png` );

}

export { saveSnapshot };
