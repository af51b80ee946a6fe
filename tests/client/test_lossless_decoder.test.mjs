// client/decoder.js against the lossless profiles' shared vectors (tests/vectors/lossless.json,
// written by `python -m depthcam.codec.vectors`): the same bytes give the same values and errors.
//
//   (cd client && npm install) && node --test tests/client/

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { rawToMillimetres } from '../../client/decoder.js';
import { FORMAT_VERSION, checkStream, readVectors } from './vectors.mjs';

const vectors = readVectors( 'lossless.json' );

// The values as FORMAT.md's little-endian bytes (what the vectors hash), whatever the host's order.
function littleEndianBytes( values ) {

	const bytes = Buffer.alloc( values.length * 2 );
	values.forEach( ( value, index ) => bytes.writeUInt16LE( value, index * 2 ) );
	return bytes;

}

// A lossless or fine frame's units and values: their hash, and the values themselves when listed.
function checkValues( { codes, units }, expect, where ) {

	assert.equal( units, expect.units, `${where}: units` );
	assert.ok( codes instanceof Uint16Array, `${where}: values are a Uint16Array` );
	const bytes = littleEndianBytes( codes );
	if ( 'values' in expect ) {

		assert.deepEqual( bytes, Buffer.from( expect.values, 'base64' ), `${where}: values` );

	}

	assert.equal( createHash( 'sha256' ).update( bytes ).digest( 'hex' ), expect.values_sha256, `${where}: values hash` );

}

test( 'the lossless vectors hold full frames, small frames and every corrupt case', () => {

	assert.equal( vectors.format_version, FORMAT_VERSION );
	const frames = vectors.streams.flatMap( ( s ) => s.frames );
	assert.ok( frames.some( ( f ) => f.expect.units === 'raw' && f.expect.header.width === 640 ) );
	assert.ok( frames.some( ( f ) => f.expect.units === 'mm' && f.expect.header.width === 640 ) );
	assert.ok( frames.filter( ( f ) => f.expect.error === 'CorruptPayloadError' ).length >= 10 );

} );

for ( const stream of vectors.streams ) {

	test( `decodes the "${stream.name}" stream as Python does: ${stream.description}`, () => {

		checkStream( stream, checkValues );

	} );

}

test( 'rawToMillimetres equals units.raw_to_mm for every raw disparity', () => {

	const table = rawToMillimetres();
	assert.ok( table instanceof Uint16Array );
	assert.deepEqual( Array.from( table ), vectors.raw_to_mm );

} );
