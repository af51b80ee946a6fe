// zstdFrame: the one Zstandard frame of a payload (codec/FORMAT.md, *lossless-raw (id 2) and
// lossless-mm (id 3)*, its Payload rule), checked, then decompressed by zstddec's WebAssembly build
// of the reference library.
//
// The frame's layout is walked here (RFC 8878, 3.1.1) before any decoding, so this decoder refuses
// exactly what codec/zstdframe.py refuses: another container, no content size, a size over the
// caller's bound (before allocating), a cut frame, and bytes after the frame.

import { ZSTDDecoder } from 'zstddec';

import { corruptPayloadError } from './codecError.js';

const ZSTD_MAGIC = [ 0x28, 0xb5, 0x2f, 0xfd ];
const BLOCK_HEADER_BYTES = 3;
const BLOCK_TYPE_RLE = 1;
const BLOCK_TYPE_RESERVED = 3;
const CHECKSUM_BYTES = 4;
const DICTIONARY_ID_BYTES = [ 0, 1, 2, 4 ];
const CONTENT_SIZE_BYTES = [ 0, 2, 4, 8 ]; // by the descriptor's top two bits (0 → 1 byte if single segment)

const zstd = new ZSTDDecoder();
await zstd.init();

// The content size stated by the frame, after checking that the frame spans the payload exactly.
function frameContentSize( payload ) {

	if ( payload.length < 6 || ! ZSTD_MAGIC.every( ( byte, index ) => payload[ index ] === byte ) ) {

		throw corruptPayloadError( `payload of ${payload.length} bytes is not a zstd frame` );

	}

	const descriptor = payload[ 4 ];
	const singleSegment = ( descriptor >> 5 ) & 1;
	const sizeFlag = descriptor >> 6;
	const sizeBytes = sizeFlag === 0 ? singleSegment : CONTENT_SIZE_BYTES[ sizeFlag ];
	if ( descriptor & 0x08 ) throw corruptPayloadError( 'zstd frame header is corrupt: reserved bit set' );
	if ( sizeBytes === 0 ) throw corruptPayloadError( 'zstd frame does not state its content size' );
	let offset = 5 + ( singleSegment ? 0 : 1 ) + DICTIONARY_ID_BYTES[ descriptor & 3 ];
	if ( payload.length < offset + sizeBytes ) throw corruptPayloadError( 'zstd frame header is cut short' );
	let size = 0;
	for ( let i = sizeBytes - 1; i >= 0; i -- ) size = size * 256 + payload[ offset + i ];
	if ( sizeBytes === 2 ) size += 256;
	offset += sizeBytes;

	for ( let last = 0; ! last; ) {

		if ( payload.length < offset + BLOCK_HEADER_BYTES ) throw corruptPayloadError( 'zstd frame is cut short' );
		const blockHeader = payload[ offset ] | ( payload[ offset + 1 ] << 8 ) | ( payload[ offset + 2 ] << 16 );
		const blockType = ( blockHeader >> 1 ) & 3;
		if ( blockType === BLOCK_TYPE_RESERVED ) throw corruptPayloadError( 'zstd block of the reserved type' );
		last = blockHeader & 1;
		offset += BLOCK_HEADER_BYTES + ( blockType === BLOCK_TYPE_RLE ? 1 : blockHeader >>> 3 );

	}

	if ( descriptor & 0x04 ) offset += CHECKSUM_BYTES;
	if ( offset > payload.length ) throw corruptPayloadError( 'zstd frame is cut short' );
	if ( offset < payload.length ) throw corruptPayloadError( `${payload.length - offset} bytes after the zstd frame` );
	return size;

}

/** The bytes of `payload` (a Uint8Array holding exactly one zstd frame of at most `maxSize` bytes). */
function decompressZstdFrame( payload, maxSize ) {

	const size = frameContentSize( payload );
	if ( size > maxSize ) throw corruptPayloadError( `zstd frame holds ${size} bytes, over the ${maxSize}-byte bound` );
	if ( size === 0 ) return new Uint8Array( 0 );
	// zstddec returns what the library wrote: nothing at all when it reports an error.
	const data = zstd.decode( payload, size );
	if ( data.length !== size ) throw corruptPayloadError( `payload does not decompress to the ${size} bytes its frame states` );
	return data;

}

export { decompressZstdFrame };
