// client/decoder.js against the shared vectors (tests/vectors/classic.json, written by
// `python -m depthcam.codec.vectors`): the same bytes must give the same frames and errors as Python.
//
//   (cd client && npm install) && node --test tests/client/
//
// decoder.js imports its LZMA library from client/node_modules, as the browser does.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { StreamDecoder, codesToMillimetres } from '../../client/decoder.js';
import { FORMAT_VERSION, checkStream, fromBase64, readVectors } from './vectors.mjs';

const vectors = readVectors( 'classic.json' );

// A classic frame's codes, byte for byte.
function checkCodes( { codes }, expect, where ) {

	assert.ok( codes instanceof Uint8Array, `${where}: codes are a Uint8Array` );
	const expected = new Uint8Array( fromBase64( expect.codes ) );
	assert.equal( codes.length, expected.length, `${where}: code count` );
	const firstDifference = codes.findIndex( ( value, i ) => value !== expected[ i ] );
	assert.equal( firstDifference, - 1, `${where}: codes differ first at pixel ${firstDifference}` );

}

test( 'the vectors hold streams, frames and dequantize tables', () => {

	assert.equal( vectors.format_version, FORMAT_VERSION );
	assert.ok( vectors.streams.length >= 10 );
	assert.ok( vectors.streams.some( ( s ) => s.frames.some( ( f ) => 'codes' in f.expect ) ) );
	assert.ok( vectors.dequantize.length >= 1 );

} );

for ( const stream of vectors.streams ) {

	test( `decodes the "${stream.name}" stream as Python does: ${stream.description}`, () => {

		checkStream( stream, checkCodes );

	} );

}

for ( const table of vectors.dequantize ) {

	test( `codesToMillimetres(${table.near_mm}, ${table.far_mm}) equals InverseDepthQuantizer.to_mm`, () => {

		const millimetres = codesToMillimetres( table.near_mm, table.far_mm );
		assert.ok( millimetres instanceof Uint16Array );
		assert.deepEqual( Array.from( millimetres ), table.mm );

	} );

}

test( 'a view into a larger buffer decodes like the bare message', () => {

	const stream = vectors.streams.find( ( s ) => s.name === 'keyframes-and-deltas' );
	const message = new Uint8Array( fromBase64( stream.frames[ 0 ].message ) );
	const padded = new Uint8Array( message.length + 8 );
	padded.set( message, 3 );
	const { header } = new StreamDecoder().decode( padded.subarray( 3, 3 + message.length ) );
	assert.deepEqual( { ...header }, stream.frames[ 0 ].expect.header );

} );

test( 'a rejected frame leaves the decoder able to take the next delta', () => {

	const stream = vectors.streams.find( ( s ) => s.name === 'keyframes-and-deltas' );
	const decoder = new StreamDecoder();
	decoder.decode( fromBase64( stream.frames[ 0 ].message ) );
	const truncated = fromBase64( stream.frames[ 1 ].message ).slice( 0, - 1 );
	assert.throws( () => decoder.decode( truncated ), { name: 'LengthMismatchError' } );
	const { codes } = decoder.decode( fromBase64( stream.frames[ 1 ].message ) );
	assert.deepEqual( codes, new Uint8Array( fromBase64( stream.frames[ 1 ].expect.codes ) ) );

} );
