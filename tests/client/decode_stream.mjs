// Decodes a file of length-prefixed wire frames (u32 little-endian length, then the frame) with
// client/decoder.js and prints one JSON line per frame: {profile, units, width, height, sha256 of
// the samples' little-endian bytes} or {error}. tests/codec/test_js_decoder.py compares it with
// Python's StreamDecoder on real recordings.
//
//   node tests/client/decode_stream.mjs FILE

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { StreamDecoder } from '../../client/decoder.js';

const data = readFileSync( process.argv[ 2 ] );
const decoder = new StreamDecoder();
for ( let offset = 0; offset < data.length; ) {

	const length = data.readUInt32LE( offset );
	const message = data.buffer.slice( data.byteOffset + offset + 4, data.byteOffset + offset + 4 + length );
	offset += 4 + length;
	try {

		const { header, codes, units } = decoder.decode( message );
		const bytes = Buffer.alloc( codes.length * codes.BYTES_PER_ELEMENT );
		codes.forEach( ( value, index ) => ( codes.BYTES_PER_ELEMENT === 1
			? bytes.writeUInt8( value, index ) : bytes.writeUInt16LE( value, index * 2 ) ) );
		const sha256 = createHash( 'sha256' ).update( bytes ).digest( 'hex' );
		console.log( JSON.stringify( { profile: header.profile, units, width: header.width, height: header.height, sha256 } ) );

	} catch ( error ) {

		console.log( JSON.stringify( { error: error.name } ) );

	}

}
