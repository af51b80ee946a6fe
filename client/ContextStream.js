// The classic-cm payload (FORMAT.md, profile 5): a CRC-32 of the codes, then the bits that
// ContextModel.js decodes. One ContextStream per stream: its model must see every frame from a
// keyframe on, so a frame it cannot decode drops it until the next keyframe.

import { codecError } from './codecError.js';
import { ContextModel } from './ContextModel.js';

const CRC_BYTES = 4;

const CRC_TABLE = new Int32Array( 256 );
for ( let n = 0; n < 256; n ++ ) {

	let c = n;
	for ( let k = 0; k < 8; k ++ ) c = c & 1 ? 0xEDB88320 ^ ( c >>> 1 ) : c >>> 1;
	CRC_TABLE[ n ] = c;

}

// CRC-32 as zlib computes it.
function crc32( bytes ) {

	let crc = - 1;
	for ( let i = 0; i < bytes.length; i ++ ) crc = CRC_TABLE[ ( crc ^ bytes[ i ] ) & 255 ] ^ ( crc >>> 8 );
	return ( crc ^ - 1 ) >>> 0;

}

class ContextStream {

	constructor( width, height ) {

		this.width = width;
		this.height = height;
		this._model = new ContextModel( width, height );
		this.inStep = false;

	}

	/** The codes of a keyframe (Uint8Array, width × height); starts the model afresh. */
	decodeKeyframe( payload ) {

		return this._decode( payload, ( bytes ) => this._model.decodeKeyframe( bytes ) );

	}

	/** The codes of the delta that follows the last frame this stream decoded. */
	decodeDelta( payload ) {

		if ( ! this.inStep ) throw codecError( 'CorruptPayloadError', 'classic-cm delta without the keyframe before it' );
		return this._decode( payload, ( bytes ) => this._model.decode( bytes ) );

	}

	_decode( payload, decode ) {

		this.inStep = false;
		if ( payload.length < CRC_BYTES ) {

			throw codecError( 'CorruptPayloadError', `classic-cm payload of ${payload.length} bytes has no CRC` );

		}

		const expected = new DataView( payload.buffer, payload.byteOffset, CRC_BYTES ).getUint32( 0, true );
		let codes;
		try {

			codes = decode( payload.subarray( CRC_BYTES ) );

		} catch ( error ) {

			throw codecError( 'CorruptPayloadError', `classic-cm payload: ${error.message}` );

		}

		if ( crc32( codes ) !== expected ) {

			throw codecError( 'CorruptPayloadError', 'classic-cm payload decodes to codes that fail its CRC-32' );

		}

		this.inStep = true;
		return codes;

	}

}

export { ContextStream, crc32 };
