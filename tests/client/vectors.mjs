// The shared test vectors (tests/vectors/, written by `python -m depthcam.codec.vectors`) for the
// node tests: reading them, and feeding one stream to client/decoder.js as pytest feeds it to Python.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { StreamDecoder } from '../../client/decoder.js';

// FORMAT.md's `version`, written out: every vectors file is of this version.
const FORMAT_VERSION = 3;

/** The parsed JSON of one vectors file (`classic.json`, `lossless.json`). */
function readVectors( fileName ) {

	return JSON.parse( readFileSync( new URL( `../vectors/${fileName}`, import.meta.url ), 'utf8' ) );

}

/** The bytes of base64 `text` as a standalone ArrayBuffer, as a WebSocket with binaryType "arraybuffer" delivers. */
function fromBase64( text ) {

	const bytes = Buffer.from( text, 'base64' );
	return bytes.buffer.slice( bytes.byteOffset, bytes.byteOffset + bytes.byteLength );

}

/**
 * Feeds one stream's frames in order to a fresh decoder. A frame expected to fail must throw an Error
 * of that name; any other must give the expected header, and `checkDecoded( decoded, expect, where )`
 * checks the rest of what decode() returned.
 */
function checkStream( stream, checkDecoded ) {

	const decoder = new StreamDecoder();
	stream.frames.forEach( ( frame, index ) => {

		const where = `${stream.name} frame ${index}`;
		const message = fromBase64( frame.message );
		if ( 'error' in frame.expect ) {

			assert.throws( () => decoder.decode( message ), ( error ) => {

				assert.ok( error instanceof Error, `${where}: throws an Error` );
				assert.equal( error.name, frame.expect.error, `${where}: error name (${error.message})` );
				return true;

			}, `${where}: expected ${frame.expect.error}` );
			return;

		}

		const decoded = decoder.decode( message );
		assert.deepEqual( { ...decoded.header }, frame.expect.header, `${where}: header fields` );
		checkDecoded( decoded, frame.expect, where );

	} );

}

export { FORMAT_VERSION, checkStream, fromBase64, readVectors };
