// losslessPayload: a lossless-profile payload (codec/FORMAT.md, *lossless-raw (id 2) and lossless-mm
// (id 3)*) to the source's own values: zstd frame → palette and residual sections → indices
// predicted from above.
//
// One pass over the pixels after a count of the escapes: at 640 × 480 this loop is the decode's
// main cost, so it keeps to typed arrays and integer arithmetic.

import { corruptPayloadError } from './codecError.js';
import { decompressZstdFrame } from './zstdFrame.js';

const PALETTE_COUNT_BYTES = 4;
const MAX_PALETTE = 65536;
const CRUMB_ESCAPE = 3;
const BYTE_ESCAPE = 255;
const WORD_BASE = CRUMB_ESCAPE + BYTE_ESCAPE;

// How many crumbs equal CRUMB_ESCAPE in each possible byte: the escape count without a pass per pixel.
const ESCAPES_IN_BYTE = Uint8Array.from( { length: 256 }, ( _, byte ) =>
	[ 6, 4, 2, 0 ].filter( ( shift ) => ( ( byte >> shift ) & 3 ) === CRUMB_ESCAPE ).length );

/** The most bytes a lossless body of `pixels` can hold (FORMAT.md: full palette, every residual a word). */
function maxBodySize( pixels ) {

	return PALETTE_COUNT_BYTES + 2 * MAX_PALETTE + Math.ceil( pixels / 4 ) + 3 * pixels;

}

/** The values (Uint16Array, width × height, row-major) of a lossless payload, or CorruptPayloadError. */
function decodeLosslessPayload( header, payload ) {

	const pixels = header.width * header.height;
	return decodeLosslessBody( decompressZstdFrame( payload, maxBodySize( pixels ) ), header.width, header.height );

}

/** The values of the lossless body that fills `body` (a Uint8Array, decompressed), or CorruptPayloadError. */
function decodeLosslessBody( body, width, height ) {

	const pixels = width * height;
	if ( body.length < PALETTE_COUNT_BYTES ) throw corruptPayloadError( `lossless body of ${body.length} bytes has no palette` );
	const view = new DataView( body.buffer, body.byteOffset, body.byteLength );
	const count = view.getUint32( 0, true );
	if ( count === 0 || count > MAX_PALETTE ) throw corruptPayloadError( `palette of ${count} values (allowed 1…${MAX_PALETTE})` );
	const crumbStart = PALETTE_COUNT_BYTES + 2 * count;
	if ( body.length < crumbStart ) throw corruptPayloadError( `palette of ${count} values cut short` );
	const palette = new Uint16Array( count );
	for ( let i = 0, value = 0; i < count; i ++ ) {

		value = ( value + view.getUint16( PALETTE_COUNT_BYTES + 2 * i, true ) ) & 0xffff;
		palette[ i ] = value;

	}

	const crumbBytes = Math.ceil( pixels / 4 );
	const byteStart = crumbStart + crumbBytes;
	if ( body.length < byteStart ) throw corruptPayloadError( `residuals cut short: ${body.length - crumbStart} of ${crumbBytes}+ bytes` );
	const padding = crumbBytes * 4 - pixels;
	if ( padding && ( body[ byteStart - 1 ] & ( ( 1 << ( 2 * padding ) ) - 1 ) ) ) throw corruptPayloadError( 'residual padding is not zero' );
	let escapes = 0;
	for ( let i = crumbStart; i < byteStart; i ++ ) escapes += ESCAPES_IN_BYTE[ body[ i ] ];
	const wordStart = byteStart + escapes;
	if ( body.length < wordStart ) throw corruptPayloadError( `${escapes} escape bytes expected, ${body.length - byteStart} left` );
	let words = 0;
	for ( let i = byteStart; i < wordStart; i ++ ) words += body[ i ] === BYTE_ESCAPE ? 1 : 0;
	if ( body.length !== wordStart + 2 * words ) throw corruptPayloadError( `${words} escape words expected, ${body.length - wordStart} bytes left` );

	const indices = new Uint16Array( pixels );
	let nextByte = byteStart;
	let nextWord = wordStart;
	let largest = 0;
	for ( let i = 0; i < pixels; i ++ ) {

		let unsigned = ( body[ crumbStart + ( i >> 2 ) ] >> ( 6 - 2 * ( i & 3 ) ) ) & 3;
		if ( unsigned === CRUMB_ESCAPE ) {

			const escape = body[ nextByte ++ ];
			if ( escape === BYTE_ESCAPE ) {

				// Sums wrap at 2^16, as the uint16 arithmetic of codec/residuals.py does.
				unsigned = ( WORD_BASE + ( body[ nextWord ] | ( body[ nextWord + 1 ] << 8 ) ) ) & 0xffff;
				nextWord += 2;

			} else {

				unsigned = CRUMB_ESCAPE + escape;

			}

		}

		// Zigzag back to a signed step; the top row steps from its left neighbour, the rest from above.
		const step = ( unsigned >>> 1 ) ^ - ( unsigned & 1 );
		const predicted = i >= width ? indices[ i - width ] : ( i > 0 ? indices[ i - 1 ] : 0 );
		const index = ( predicted + step ) & 0xffff;
		indices[ i ] = index;
		if ( index > largest ) largest = index;

	}

	if ( largest >= count ) throw corruptPayloadError( `palette index ${largest} beyond its ${count} values` );
	for ( let i = 0; i < pixels; i ++ ) indices[ i ] = palette[ indices[ i ] ];
	return indices;

}

export { decodeLosslessBody, decodeLosslessPayload, maxBodySize };
