// StreamDecoder: depthcam wire frames in, header fields and depth codes out, by codec/FORMAT.md.
//
// Pure: no DOM, no socket. The only wait is loading liblzma's WebAssembly once, at import (a
// top-level await), so decode() itself is synchronous. Errors carry FORMAT.md's names in `.name`
// (the Python classes in codec/errors.py), so a viewer and a test can tell them apart.

import {
	LZMA_FINISH,
	LZMA_OK,
	LZMA_STREAM_END,
	WasmLzmaStream,
	autoDecoderInit,
	code,
	end,
	initModule,
} from 'node-liblzma/wasm';

import { FLAG_COLOUR, FLAG_INTRINSICS, detachAttachments } from './attachments.js';
import { codecError } from './codecError.js';
import { ContextStream } from './ContextStream.js';
import { decodeFineInversePayload, decodeFinePayload } from './finePayload.js';
import { decodeLosslessPayload } from './losslessPayload.js';

// FORMAT.md, *Header*: one row here per row there (offset and size in bytes, little-endian).
const HEADER = Object.freeze( {
	magic: Object.freeze( { offset: 0, size: 4 } ), // bytes, ASCII "DCAM"
	version: Object.freeze( { offset: 4, size: 1 } ), // u8, 1
	profile: Object.freeze( { offset: 5, size: 1 } ), // u8, see PROFILES
	flags: Object.freeze( { offset: 6, size: 1 } ), // u8, bit 0 KEYFRAME, bit 1 CATCHUP, bits 2-3 attachments
	reserved: Object.freeze( { offset: 7, size: 1 } ), // u8, 0
	sequence: Object.freeze( { offset: 8, size: 4 } ), // u32, +1 per frame, wraps at 2^32
	capture_time_us: Object.freeze( { offset: 12, size: 8 } ), // u64, µs since the Unix epoch
	width: Object.freeze( { offset: 20, size: 2 } ), // u16, columns
	height: Object.freeze( { offset: 22, size: 2 } ), // u16, rows
	near_mm: Object.freeze( { offset: 24, size: 2 } ), // u16, depth of code 0
	far_mm: Object.freeze( { offset: 26, size: 2 } ), // u16, depth of code 254
	motion_u: Object.freeze( { offset: 28, size: 2 } ), // u16, column of the change, fraction × 65535
	motion_v: Object.freeze( { offset: 30, size: 2 } ), // u16, row of the change, fraction × 65535
	motion_depth_mm: Object.freeze( { offset: 32, size: 2 } ), // u16, mean depth of the change
	motion_weight: Object.freeze( { offset: 34, size: 2 } ), // u16, share of pixels changed × 65535
	payload_length: Object.freeze( { offset: 36, size: 4 } ), // u32, bytes after the header
	size: 40,
} );

const MAGIC = [ 0x44, 0x43, 0x41, 0x4d ]; // "DCAM"
const VERSION = 3;
// FORMAT.md, *Profiles*: id → name, the units of a lossless profile's values, and whether every
// frame of it must be a keyframe.
const PROFILES = Object.freeze( {
	1: Object.freeze( { name: 'classic', units: null, keyframesOnly: false } ),
	2: Object.freeze( { name: 'lossless-raw', units: 'raw', keyframesOnly: true } ),
	3: Object.freeze( { name: 'lossless-mm', units: 'mm', keyframesOnly: true } ),
	4: Object.freeze( { name: 'fine', units: 'mm', keyframesOnly: true } ),
	5: Object.freeze( { name: 'classic-cm', units: null, keyframesOnly: false } ),
	6: Object.freeze( { name: 'fine-inverse', units: 'mm', keyframesOnly: true } ),
} );
const PROFILE_CLASSIC = 1;
const PROFILE_FINE = 4;
const PROFILE_CLASSIC_CM = 5;
const PROFILE_FINE_INVERSE = 6;
const FLAG_KEYFRAME = 1;
const FLAG_CATCHUP = 2;
const KNOWN_FLAG_BITS = FLAG_KEYFRAME | FLAG_CATCHUP | FLAG_COLOUR | FLAG_INTRINSICS;
const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
const MAX_PIXELS = 640 * 480;

const MAX_CODE = 254;
const NO_READING_CODE = 255;

// liblzma refuses a stream whose dictionary needs more than this; ours uses 2^18 bytes, and a
// hostile header must not make the page allocate hundreds of MiB.
const LZMA_MEMORY_LIMIT_BYTES = 32 * 1024 * 1024;
// A .lzma stream opens with its properties byte, (pb · 5 + lp) · 9 + lc, which is below 9 · 5 · 5.
const LZMA_PROPERTIES_LIMIT = 225;
// FORMAT.md's .lzma header: the properties byte, a 4-byte dictionary size, an 8-byte uncompressed size.
const LZMA_ALONE_HEADER_BYTES = 13;
// liblzma's auto decoder would also take .xz and .lzip; FORMAT.md allows only .lzma ("LZMA alone"),
// so those are refused before liblzma sees them, as Python's FORMAT_ALONE does: .xz by its first
// magic byte (0xFD, at or over LZMA_PROPERTIES_LIMIT), .lzip by its magic.
const LZIP_MAGIC = [ 0x4c, 0x5a, 0x49, 0x50 ]; // "LZIP"

const liblzma = await initModule();

// A WebSocket message as its own ArrayBuffer (a view is copied out of its larger buffer).
function asArrayBuffer( message ) {

	return ArrayBuffer.isView( message )
		? message.buffer.slice( message.byteOffset, message.byteOffset + message.byteLength ) : message;

}

function startsWith( bytes, prefix ) {

	return prefix.every( ( byte, index ) => bytes[ index ] === byte );

}

// The `expectedSize` bytes of a .lzma payload, or CorruptPayloadError. The output buffer is one byte
// longer than a frame, so an over-long stream stops there instead of inflating without bound.
function decompressLzmaAlone( payload, expectedSize ) {

	if ( payload.length < LZMA_ALONE_HEADER_BYTES || payload[ 0 ] >= LZMA_PROPERTIES_LIMIT || startsWith( payload, LZIP_MAGIC ) ) {

		throw codecError( 'CorruptPayloadError', `payload of ${payload.length} bytes is not a .lzma stream` );

	}

	const stream = new WasmLzmaStream( liblzma );
	const inputPointer = liblzma._malloc( payload.length );
	const outputSize = expectedSize + 1;
	const outputPointer = liblzma._malloc( outputSize );
	try {

		liblzma.HEAPU8.set( payload, inputPointer );
		autoDecoderInit( stream, LZMA_MEMORY_LIMIT_BYTES );
		stream.setInput( inputPointer, payload.length );
		stream.setOutput( outputPointer, outputSize );
		let status;
		do {

			status = code( stream, LZMA_FINISH );

		} while ( status === LZMA_OK && stream.availOut > 0 );
		const produced = outputSize - stream.availOut;
		if ( status !== LZMA_STREAM_END || produced !== expectedSize ) {

			// LZMA_OK here means the output buffer filled up; any other status is liblzma's complaint.
			const outcome = status === LZMA_STREAM_END ? `decompresses to ${produced} bytes`
				: status === LZMA_OK ? `decompresses to more than ${expectedSize} bytes`
					: `does not decompress (liblzma status ${status})`;
			throw codecError( 'CorruptPayloadError', `payload ${outcome}, expected ${expectedSize} bytes` );

		}

		// HEAPU8 is re-read here: liblzma may have grown (and so replaced) the WebAssembly memory.
		return liblzma.HEAPU8.slice( outputPointer, outputPointer + expectedSize );

	} catch ( error ) {

		if ( error.name === 'CorruptPayloadError' ) throw error;
		throw codecError( 'CorruptPayloadError', `payload does not decompress: ${error.message}` );

	} finally {

		end( stream );
		stream.free();
		liblzma._free( inputPointer );
		liblzma._free( outputPointer );

	}

}

// FORMAT.md, *Rejection rules*, rows 1–7: the checks that need only the message.
function parseHeader( message ) {

	if ( message.byteLength < HEADER.size ) {

		throw codecError( 'TruncatedFrameError', `frame of ${message.byteLength} bytes is shorter than the ${HEADER.size}-byte header` );

	}

	const bytes = new Uint8Array( message, 0, HEADER.size );
	const view = new DataView( message, 0, HEADER.size );
	if ( ! startsWith( bytes, MAGIC ) ) {

		throw codecError( 'BadMagicError', 'frame does not start with DCAM' );

	}

	const version = view.getUint8( HEADER.version.offset );
	if ( version !== VERSION ) {

		throw codecError( 'UnsupportedVersionError', `frame version ${version}; this decoder speaks version ${VERSION}` );

	}

	const header = Object.freeze( {
		profile: view.getUint8( HEADER.profile.offset ),
		flags: view.getUint8( HEADER.flags.offset ),
		sequence: view.getUint32( HEADER.sequence.offset, true ),
		// Microseconds since 1970 stay below 2^53 until the year 2255, so a Number holds them exactly.
		capture_time_us: Number( view.getBigUint64( HEADER.capture_time_us.offset, true ) ),
		width: view.getUint16( HEADER.width.offset, true ),
		height: view.getUint16( HEADER.height.offset, true ),
		near_mm: view.getUint16( HEADER.near_mm.offset, true ),
		far_mm: view.getUint16( HEADER.far_mm.offset, true ),
		motion_u: view.getUint16( HEADER.motion_u.offset, true ),
		motion_v: view.getUint16( HEADER.motion_v.offset, true ),
		motion_depth_mm: view.getUint16( HEADER.motion_depth_mm.offset, true ),
		motion_weight: view.getUint16( HEADER.motion_weight.offset, true ),
		payload_length: view.getUint32( HEADER.payload_length.offset, true ),
	} );

	if ( ! Object.hasOwn( PROFILES, header.profile ) ) {

		const known = Object.entries( PROFILES ).map( ( [ id, profile ] ) => `${id}=${profile.name}` ).join( ', ' );
		throw codecError( 'UnknownProfileError', `profile ${header.profile} is unknown to this decoder (known: ${known})` );

	}

	const reserved = view.getUint8( HEADER.reserved.offset );
	if ( header.flags & ~ KNOWN_FLAG_BITS ) {

		throw codecError( 'BadHeaderError', `unknown flag bits 0x${header.flags.toString( 16 )}` );

	}

	if ( ( header.flags & FLAG_CATCHUP ) && ! ( header.flags & FLAG_KEYFRAME ) ) {

		throw codecError( 'BadHeaderError', 'CATCHUP frame without KEYFRAME' );

	}

	if ( ( header.flags & FLAG_CATCHUP ) && header.profile === PROFILE_CLASSIC_CM ) {

		throw codecError( 'BadHeaderError', 'classic-cm has no CATCHUP frames' );

	}

	if ( PROFILES[ header.profile ].keyframesOnly && ! ( header.flags & FLAG_KEYFRAME ) ) {

		throw codecError( 'BadHeaderError', `profile ${PROFILES[ header.profile ].name} sends keyframes only` );

	}

	if ( reserved !== 0 ) {

		throw codecError( 'BadHeaderError', `reserved byte is ${reserved}, not 0` );

	}

	if ( header.near_mm >= header.far_mm ) {

		throw codecError( 'BadHeaderError', `near_mm ${header.near_mm} is not below far_mm ${header.far_mm}` );

	}

	if ( header.width === 0 || header.height === 0 ) {

		throw codecError( 'BadHeaderError', `empty frame ${header.width}x${header.height}` );

	}

	if ( header.payload_length > MAX_PAYLOAD_BYTES ) {

		throw codecError( 'OversizedFrameError', `payload of ${header.payload_length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit` );

	}

	if ( header.width * header.height > MAX_PIXELS ) {

		throw codecError( 'OversizedFrameError', `frame ${header.width}x${header.height} is over the ${MAX_PIXELS}-pixel limit` );

	}

	if ( message.byteLength !== HEADER.size + header.payload_length ) {

		throw codecError( 'LengthMismatchError', `header says ${header.payload_length} payload bytes, message has ${message.byteLength - HEADER.size}` );

	}

	return header;

}

/**
 * Decodes the frames of one stream in order (a fresh one per connection).
 *
 * decode() returns `{header, codes, units, intrinsics, colour}`: the header's wire fields (FORMAT.md
 * names), the frame's
 * samples (width × height, row-major, top row first) and what they are. For classic and
 * classic-cm, `codes` is a Uint8Array of one-byte codes (255 = no reading) and `units` is null;
 * for the lossless profiles it is a Uint16Array of the source's own values and `units` is 'raw'
 * (Kinect disparity, 2047 = no reading) or 'mm' (0 = no reading); for fine, a Uint16Array of
 * depth and `units` 'mm'. `intrinsics` ({fx, fy, cx, cy}, pixels of this frame) and `colour`
 * ({coding, mimeType, scale, width, height, bytes}: the coded picture) are the frame's
 * attachments (FORMAT.md, *Attachments*), null when it has none. The decoder keeps `codes` as
 * its reference for the next delta: read it, don't write it. A rejected frame throws and leaves the decoder as it was, except
 * SequenceGapError (and a classic-cm frame that fails), after which it waits for the next
 * keyframe. The checks run in FORMAT.md's order.
 */
class StreamDecoder {

	/**
	 * `contextWorker`: a ContextWorker for decodeAsync to decode classic-cm payloads on (optional;
	 * without one, or once it has failed, decodeAsync decodes on the calling thread).
	 */
	constructor( { contextWorker = null } = {} ) {

		this._contextWorker = contextWorker;
		this._codes = null;
		this._sequence = 0;
		this._profile = 0;
		this._width = 0;
		this._height = 0;
		this._context = null; // classic-cm: the stream's model, in step with the encoder's

	}

	/** True once a keyframe has been decoded (and no gap has happened since). */
	get hasKeyframe() {

		return this._codes !== null;

	}

	/** Decode one wire frame (an ArrayBuffer, or a view of one). */
	decode( message ) {

		message = asArrayBuffer( message );
		return this._decodeFrame( parseHeader( message ), message, null );

	}

	/**
	 * decode(), but a classic-cm payload is decoded by the ContextWorker, off this thread: a Promise
	 * of the same result. Call it for one frame at a time, in order (await each before the next),
	 * and don't mix it with decode() on the same stream.
	 */
	async decodeAsync( message ) {

		message = asArrayBuffer( message );
		return this._decodeFrame( parseHeader( message ), message, this._contextWorker );

	}

	// The frame after its header checks, with its attachments (FORMAT.md: checked before the
	// profile's payload, so a broken block changes no state); a Promise when `worker` decodes.
	_decodeFrame( header, message, worker ) {

		const { intrinsics, colour, payload } = detachAttachments( header, new Uint8Array( message, HEADER.size ) );
		const frame = this._decodeDepth( header, payload, worker );
		const attach = ( decoded ) => Object.assign( decoded, { intrinsics, colour } );
		return frame instanceof Promise ? frame.then( attach ) : attach( frame );

	}

	// The profile's payload; a classic-cm payload goes to `worker` when it can take it.
	_decodeDepth( header, payload, worker ) {

		const pixels = header.width * header.height;
		if ( header.profile === PROFILE_CLASSIC_CM ) return this._decodeContext( header, payload, worker );
		const body = header.profile === PROFILE_CLASSIC ? decompressLzmaAlone( payload, pixels )
			: header.profile === PROFILE_FINE ? decodeFinePayload( header, payload )
				: header.profile === PROFILE_FINE_INVERSE ? decodeFineInversePayload( header, payload )
					: decodeLosslessPayload( header, payload );
		if ( header.flags & FLAG_KEYFRAME ) {

			return this._keep( header, body );

		}

		this._checkFollows( header );
		const previous = this._codes;
		for ( let i = 0; i < pixels; i ++ ) {

			body[ i ] += previous[ i ]; // a Uint8Array stores the sum mod 256, as FORMAT.md's delta needs

		}

		return this._keep( header, body );

	}

	// A classic-cm frame: its payload decodes only in step with the model, so the stream rules
	// come first (FORMAT.md, *Rejection rules*). On `worker` (a Promise then) unless it has failed;
	// a payload that fails loses the stream its state until the next keyframe.
	_decodeContext( header, payload, worker ) {

		const keyframe = ( header.flags & FLAG_KEYFRAME ) !== 0;
		if ( ! keyframe ) this._checkFollows( header );
		const lose = ( error ) => {

			this._codes = null;
			throw error;

		};
		if ( worker !== null && ! worker.failed ) {

			return worker.decode( header, payload, keyframe ).then( ( codes ) => this._keep( header, codes ), lose );

		}

		if ( this._context === null || this._context.width !== header.width || this._context.height !== header.height ) {

			this._context = new ContextStream( header.width, header.height );

		}

		let codes;
		try {

			codes = keyframe ? this._context.decodeKeyframe( payload ) : this._context.decodeDelta( payload );

		} catch ( error ) {

			lose( error );

		}

		return this._keep( header, codes );

	}

	// A delta must follow the frame decoded last.
	_checkFollows( header ) {

		if ( this._codes === null ) {

			throw codecError( 'MissingKeyframeError', `delta ${header.sequence} arrived before any keyframe` );

		}

		const expected = ( this._sequence + 1 ) >>> 0;
		if ( header.sequence !== expected || header.profile !== this._profile
			|| header.width !== this._width || header.height !== this._height ) {

			this._codes = null;
			throw codecError( 'SequenceGapError', `delta ${header.sequence} (${PROFILES[ header.profile ].name}, ${header.width}x${header.height}) does not follow frame ${this._sequence}; waiting for a keyframe` );

		}

	}

	_keep( header, codes ) {

		this._codes = codes;
		this._sequence = header.sequence;
		this._profile = header.profile;
		this._width = header.width;
		this._height = header.height;
		return { header, codes, units: PROFILES[ header.profile ].units };

	}

}

/**
 * The depth in millimetres of each code for a stream's near_mm/far_mm: a Uint16Array of 256,
 * 0 for code 255 (no reading). Matches codec/quantization.py's InverseDepthQuantizer.to_mm bit for
 * bit: the same double arithmetic, rounded half to even as numpy's rint is.
 */
function codesToMillimetres( nearMm, farMm ) {

	const inverseNear = 1.0 / nearMm;
	const inverseSpan = 1.0 / nearMm - 1.0 / farMm;
	const table = new Uint16Array( NO_READING_CODE + 1 );
	for ( let code = 0; code <= MAX_CODE; code ++ ) {

		table[ code ] = roundHalfToEven( 1.0 / ( inverseNear - code / MAX_CODE * inverseSpan ) );

	}

	table[ NO_READING_CODE ] = 0;
	return table;

}

// codec/units.py: 1/z [1/m] = RAW_SLOPE_PER_M · raw + RAW_OFFSET_PER_M, in float32 as numpy computes it.
const RAW_SLOPE_PER_M = - 0.0030711016;
const RAW_OFFSET_PER_M = 3.3309495161;
const RAW_NO_READING = 2047;
const MAX_RAW_DEPTH_MM = 10000;

/**
 * The depth in millimetres of each Kinect raw disparity 0…2047 (what a lossless-raw frame carries):
 * a Uint16Array of 2048, 0 for no reading. Matches codec/units.py's raw_to_mm bit for bit: float32
 * steps (each double result rounded by Math.fround gives numpy's float32 result exactly), then
 * rounding half to even.
 */
function rawToMillimetres() {

	const f = Math.fround;
	const limit = f( 1000 / MAX_RAW_DEPTH_MM );
	const table = new Uint16Array( RAW_NO_READING + 1 );
	for ( let raw = 0; raw < RAW_NO_READING; raw ++ ) {

		const inverseM = f( f( raw * f( RAW_SLOPE_PER_M ) ) + f( RAW_OFFSET_PER_M ) );
		table[ raw ] = inverseM > limit ? roundHalfToEven( f( 1000 / inverseM ) ) : 0;

	}

	return table;

}

function roundHalfToEven( value ) {

	const floor = Math.floor( value );
	const fraction = value - floor;
	if ( fraction !== 0.5 ) return Math.round( value );
	return floor % 2 === 0 ? floor : floor + 1;

}

/** FORMAT.md's name of a profile id ('classic-cm'), or `profile N` for one this decoder does not know. */
function profileName( profile ) {

	return Object.hasOwn( PROFILES, profile ) ? PROFILES[ profile ].name : `profile ${profile}`;

}

export { StreamDecoder, codesToMillimetres, profileName, rawToMillimetres };
