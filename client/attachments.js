// attachments: the blocks a frame may carry before its depth payload (codec/FORMAT.md, *Attachments*).
//
// Pure: bytes in, `{ intrinsics, colour, payload }` out. The picture's pixels are not decoded here:
// the page hands `colour.bytes` to the browser's own image decoder (createImageBitmap).

import { codecError } from './codecError.js';

const FLAG_COLOUR = 4; // FORMAT.md, *Header*, flags bit 2
const FLAG_INTRINSICS = 8; // ... bit 3

// FORMAT.md, *INTRINSICS block*: four little-endian float32, pixels of the decoded frame.
const INTRINSICS = Object.freeze( {
	fx: Object.freeze( { offset: 0, size: 4 } ),
	fy: Object.freeze( { offset: 4, size: 4 } ),
	cx: Object.freeze( { offset: 8, size: 4 } ),
	cy: Object.freeze( { offset: 12, size: 4 } ),
	size: 16,
} );

// FORMAT.md, *COLOUR block*: the 8-byte head before the picture.
const COLOUR = Object.freeze( {
	coding: Object.freeze( { offset: 0, size: 1 } ), // u8, 1 JPEG, 2 WebP
	scale: Object.freeze( { offset: 1, size: 1 } ), // u8, 1, 2 or 4
	reserved: Object.freeze( { offset: 2, size: 2 } ), // u16, 0
	picture_length: Object.freeze( { offset: 4, size: 4 } ), // u32
	size: 8,
} );

const CODINGS = Object.freeze( {
	1: Object.freeze( { name: 'jpeg', mimeType: 'image/jpeg', magic: [ 0xff, 0xd8, 0xff ] } ),
	2: Object.freeze( { name: 'webp', mimeType: 'image/webp', magic: null } ),
} );
const SCALES = Object.freeze( [ 1, 2, 4 ] );
const MAX_PICTURE_PIXELS = 640 * 480;
const RIFF = [ 0x52, 0x49, 0x46, 0x46 ]; // "RIFF"
const WEBP = [ 0x57, 0x45, 0x42, 0x50 ]; // "WEBP"

function startsWith( bytes, prefix, at = 0 ) {

	return prefix.every( ( byte, index ) => bytes[ at + index ] === byte );

}

function looksLike( coding, picture ) {

	if ( coding === 1 ) return startsWith( picture, CODINGS[ 1 ].magic );
	return startsWith( picture, RIFF ) && startsWith( picture, WEBP, 8 );

}

/**
 * The attachments of a parsed frame, and its profile's own payload after them. `payload` is a
 * Uint8Array of everything after the header. Returns `{ intrinsics: {fx, fy, cx, cy} | null,
 * colour: {coding, mimeType, scale, width, height, bytes} | null, payload }`; throws
 * CorruptPayloadError as FORMAT.md's rules say.
 */
function detachAttachments( header, payload ) {

	let intrinsics = null;
	let colour = null;
	let offset = 0;
	if ( header.flags & FLAG_INTRINSICS ) {

		if ( payload.length < INTRINSICS.size ) throw codecError( 'CorruptPayloadError', 'payload ends inside the INTRINSICS block' );
		const view = new DataView( payload.buffer, payload.byteOffset, INTRINSICS.size );
		const value = ( field ) => view.getFloat32( INTRINSICS[ field ].offset, true );
		intrinsics = Object.freeze( { fx: value( 'fx' ), fy: value( 'fy' ), cx: value( 'cx' ), cy: value( 'cy' ) } );
		const { fx, fy, cx, cy } = intrinsics;
		if ( ! [ fx, fy, cx, cy ].every( Number.isFinite ) || ! ( fx > 0 && fy > 0 ) ) {

			throw codecError( 'CorruptPayloadError', `intrinsics fx=${fx} fy=${fy} cx=${cx} cy=${cy}: need finite values and fx, fy > 0` );

		}

		offset = INTRINSICS.size;

	}

	if ( header.flags & FLAG_COLOUR ) {

		if ( payload.length - offset < COLOUR.size ) throw codecError( 'CorruptPayloadError', 'payload ends inside the COLOUR block\'s head' );
		const view = new DataView( payload.buffer, payload.byteOffset + offset, COLOUR.size );
		const coding = view.getUint8( COLOUR.coding.offset );
		const scale = view.getUint8( COLOUR.scale.offset );
		const reserved = view.getUint16( COLOUR.reserved.offset, true );
		const length = view.getUint32( COLOUR.picture_length.offset, true );
		if ( ! Object.hasOwn( CODINGS, coding ) ) throw codecError( 'CorruptPayloadError', `unknown colour coding ${coding}` );
		if ( ! SCALES.includes( scale ) || reserved !== 0 ) {

			throw codecError( 'CorruptPayloadError', `colour scale ${scale} (allowed: ${SCALES.join( ', ' )}), reserved ${reserved}` );

		}

		const width = header.width * scale;
		const height = header.height * scale;
		if ( width * height > MAX_PICTURE_PIXELS ) throw codecError( 'CorruptPayloadError', `colour picture ${width}x${height} is over ${MAX_PICTURE_PIXELS} pixels` );
		const start = offset + COLOUR.size;
		if ( length > payload.length - start ) throw codecError( 'CorruptPayloadError', `colour picture of ${length} bytes runs past the payload's end` );
		const bytes = payload.subarray( start, start + length );
		if ( ! looksLike( coding, bytes ) ) throw codecError( 'CorruptPayloadError', `colour picture is not a ${CODINGS[ coding ].name.toUpperCase()} file` );
		colour = Object.freeze( { coding, mimeType: CODINGS[ coding ].mimeType, scale, width, height, bytes } );
		offset = start + length;

	}

	return { intrinsics, colour, payload: offset === 0 ? payload : payload.subarray( offset ) };

}

export { FLAG_COLOUR, FLAG_INTRINSICS, detachAttachments };
