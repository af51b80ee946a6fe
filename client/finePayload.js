// finePayload: a fine-profile payload (codec/FORMAT.md, *fine (id 4)*) to depth in millimetres: a
// zstd frame holding the quantization step, then a lossless body of levels; depth = level × step.

import { corruptPayloadError } from './codecError.js';
import { decodeLosslessBody, maxBodySize } from './losslessPayload.js';
import { decompressZstdFrame } from './zstdFrame.js';

const STEP_BYTES = 2;
const MAX_DEPTH_MM = 65535;

/** The depth (Uint16Array of mm, width × height, 0 = no reading) of a fine payload, or CorruptPayloadError. */
function decodeFinePayload( header, payload ) {

	const body = decompressZstdFrame( payload, STEP_BYTES + maxBodySize( header.width * header.height ) );
	if ( body.length < STEP_BYTES ) throw corruptPayloadError( `fine body of ${body.length} bytes has no step` );
	const step = body[ 0 ] | ( body[ 1 ] << 8 );
	if ( step === 0 ) throw corruptPayloadError( 'fine step of 0 mm' );
	const depth = decodeLosslessBody( body.subarray( STEP_BYTES ), header.width, header.height );
	let largest = 0;
	for ( let i = 0; i < depth.length; i ++ ) if ( depth[ i ] > largest ) largest = depth[ i ];
	if ( largest * step > MAX_DEPTH_MM ) throw corruptPayloadError( `level ${largest} × ${step} mm is beyond 65535 mm` );
	for ( let i = 0; i < depth.length; i ++ ) depth[ i ] *= step;
	return depth;

}

export { decodeFinePayload };
