// client/decoder.js (and attachments.js) against the shared colour vectors (tests/vectors/colour.json,
// written by `python -m depthcam.codec.vectors`): the same intrinsics, pictures and errors as Python.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { FORMAT_VERSION, checkStream, fromBase64, readVectors } from './vectors.mjs';

const vectors = readVectors( 'colour.json' );

function checkAttachments( decoded, expect, where ) {

	const values = decoded.units === null ? decoded.codes
		: new Uint8Array( decoded.codes.buffer, decoded.codes.byteOffset, decoded.codes.byteLength );
	assert.equal( createHash( 'sha256' ).update( values ).digest( 'hex' ), expect.values_sha256, `${where}: samples` );
	const { intrinsics, colour } = expect.attachments;
	if ( intrinsics === null ) {

		assert.equal( decoded.intrinsics, null, `${where}: no intrinsics` );

	} else {

		const { fx, fy, cx, cy } = decoded.intrinsics;
		assert.deepEqual( [ fx, fy, cx, cy ], intrinsics, `${where}: intrinsics` );

	}

	if ( colour === null ) {

		assert.equal( decoded.colour, null, `${where}: no colour` );
		return;

	}

	assert.equal( decoded.colour.coding, colour.coding, `${where}: coding` );
	assert.equal( decoded.colour.scale, colour.scale, `${where}: scale` );
	assert.equal( decoded.colour.mimeType, colour.coding === 1 ? 'image/jpeg' : 'image/webp' );
	assert.equal( decoded.colour.width, decoded.header.width * colour.scale );
	assert.deepEqual( Array.from( decoded.colour.bytes ), Array.from( new Uint8Array( fromBase64( colour.picture ) ) ), `${where}: picture bytes` );

}

test( 'the colour vectors hold JPEG and WebP pictures and refused blocks', () => {

	assert.equal( vectors.format_version, FORMAT_VERSION );
	const expects = vectors.streams.flatMap( ( s ) => s.frames.map( ( f ) => f.expect ) );
	assert.ok( expects.some( ( e ) => e.attachments && e.attachments.colour && e.attachments.colour.coding === 2 ) );
	assert.ok( expects.filter( ( e ) => e.error === 'CorruptPayloadError' ).length >= 10 );

} );

for ( const stream of vectors.streams ) {

	test( `decodes the "${stream.name}" stream as Python does: ${stream.description}`, () => {

		checkStream( stream, checkAttachments );

	} );

}
