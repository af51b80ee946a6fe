// client/decoder.js against the hand-made vectors (tests/vectors/handmade.json, written by
// `python -m depthcam.codec.handmade_vectors`): frames laid out byte by byte from FORMAT.md, whose
// expected codes and values were worked out by hand rather than taken from a decoder.
//
//   (cd client && npm install) && node --test tests/client/

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FORMAT_VERSION, checkStream, fromBase64, readVectors } from './vectors.mjs';

const vectors = readVectors( 'handmade.json' );

// A classic frame's codes, or another profile's units and values, as the hand-made expectation says.
function checkResult( { codes, units }, expect, where ) {

	if ( 'codes' in expect ) {

		assert.deepEqual( codes, new Uint8Array( fromBase64( expect.codes ) ), `${where}: codes` );
		return;

	}

	assert.equal( units, expect.units, `${where}: units` );
	const bytes = Buffer.from( expect.values, 'base64' );
	const values = Array.from( { length: bytes.length / 2 }, ( _, index ) => bytes.readUInt16LE( index * 2 ) );
	assert.deepEqual( Array.from( codes ), values, `${where}: values` );

}

test( 'the hand-made vectors hold classic, lossless and fine frames and corrupt ones', () => {

	assert.equal( vectors.format_version, FORMAT_VERSION );
	const frames = vectors.streams.flatMap( ( s ) => s.frames );
	const profiles = new Set( frames.filter( ( f ) => 'header' in f.expect ).map( ( f ) => f.expect.header.profile ) );
	assert.deepEqual( [ ...profiles ].sort(), [ 1, 2, 3, 4 ] );
	assert.ok( frames.filter( ( f ) => f.expect.error === 'CorruptPayloadError' ).length >= 4 );

} );

for ( const stream of vectors.streams ) {

	test( `decodes the "${stream.name}" stream as worked out by hand: ${stream.description}`, () => {

		checkStream( stream, checkResult );

	} );

}
