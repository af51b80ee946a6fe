// finePayload: a fine or fine-inverse payload (codec/FORMAT.md, *fine (id 4)*, *fine-inverse (id 6)*)
// to depth in millimetres: a zstd frame holding the quantization's parameter, then a lossless body of
// levels; depth = level × step (fine) or ⌊(2 · scale + level) / (2 · level)⌋ (fine-inverse).

import { corruptPayloadError } from './codecError.js';
import { decodeLosslessBody, maxBodySize } from './losslessPayload.js';
import { decompressZstdFrame } from './zstdFrame.js';

const STEP_BYTES = 2;
const SCALE_BYTES = 4;
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

/** The depth (Uint16Array of mm, 0 = no reading) of a fine-inverse payload, or CorruptPayloadError. */
function decodeFineInversePayload( header, payload ) {

	const body = decompressZstdFrame( payload, SCALE_BYTES + maxBodySize( header.width * header.height ) );
	if ( body.length < SCALE_BYTES ) throw corruptPayloadError( `fine-inverse body of ${body.length} bytes has no scale` );
	const scale = ( body[ 0 ] | ( body[ 1 ] << 8 ) | ( body[ 2 ] << 16 ) | ( body[ 3 ] << 24 ) ) >>> 0;
	if ( scale === 0 ) throw corruptPayloadError( 'fine-inverse scale of 0' );
	const levels = decodeLosslessBody( body.subarray( SCALE_BYTES ), header.width, header.height );
	let smallest = Infinity;
	for ( let i = 0; i < levels.length; i ++ ) if ( levels[ i ] > 0 && levels[ i ] < smallest ) smallest = levels[ i ];
	const depthOf = ( level ) => Math.floor( ( 2 * scale + level ) / ( 2 * level ) ); // exact: below 2^53
	if ( smallest !== Infinity && depthOf( smallest ) > MAX_DEPTH_MM ) {

		throw corruptPayloadError( `scale ${scale} / level ${smallest} is beyond 65535 mm` );

	}

	// levels is the lossless body's own new array: its values become depths in place.
	for ( let i = 0; i < levels.length; i ++ ) if ( levels[ i ] > 0 ) levels[ i ] = depthOf( levels[ i ] );
	return levels;

}

export { decodeFineInversePayload, decodeFinePayload };
