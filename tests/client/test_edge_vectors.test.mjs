// client/decoder.js against tests/vectors/format-edges.json (written by
// `python -m depthcam.codec.edgevectors`): one vector for each point of FORMAT.md a reader could
// guess. Also the 2012 wire's vectors, decoded with js-lzma as the 2012 client decoded them.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import { StreamDecoder, codesToMillimetres } from '../../client/decoder.js';
import { checkStream, fromBase64, readVectors } from './vectors.mjs';

const vectors = readVectors( 'format-edges.json' );
const LZMA = createRequire( import.meta.url )( 'js-lzma' );

function checkSamples( decoded, expect, where ) {

	if ( 'codes' in expect ) {

		assert.deepEqual( decoded.codes, new Uint8Array( fromBase64( expect.codes ) ), `${where}: codes` );
		return;

	}

	const bytes = new Uint8Array( decoded.codes.buffer, decoded.codes.byteOffset, decoded.codes.byteLength );
	assert.equal( createHash( 'sha256' ).update( bytes ).digest( 'hex' ), expect.values_sha256, `${where}: values` );

}

for ( const stream of vectors.streams ) {

	test( `${stream.rule}: decodes "${stream.name}" as Python does: ${stream.description}`, () => {

		checkStream( stream, checkSamples );

	} );

}

test( 'cm-codes-out-of-range fails on the code itself, below 0 then over 254, not on the CRC', () => {

	const stream = vectors.streams.find( ( s ) => s.name === 'cm-codes-out-of-range' );
	const codes = stream.frames.slice( 0, 2 ).map( ( frame ) => {

		let caught = null;
		try {

			new StreamDecoder().decode( fromBase64( frame.message ) );

		} catch ( error ) {

			caught = error;

		}

		assert.equal( caught && caught.name, 'CorruptPayloadError' );
		const found = /decodes to code (-?\d+) at pixel \d+/.exec( caught.message );
		assert.ok( found, caught.message );
		return Number( found[ 1 ] );

	} );
	assert.ok( codes[ 0 ] < 0 && codes[ 1 ] > 254, `codes ${codes}` );

} );

for ( const table of vectors.dequantize ) {

	test( `codesToMillimetres(${table.near_mm}, ${table.far_mm}) rounds as FORMAT.md says`, () => {

		assert.deepEqual( Array.from( codesToMillimetres( table.near_mm, table.far_mm ) ), table.mm );

	} );

}

// The 2012 client's read of one message: LZMA.decompress with the properties from the message's
// first 5 bytes and exactly 5 + width × height bytes of output.
function decode2012( message, size ) {

	const wrap = ( data ) => ( { data, offset: 0, readByte() { return this.data[ this.offset ++ ]; },
		writeByte( value ) { this.data[ this.offset ++ ] = value; } } );
	const input = wrap( new Uint8Array( message ) );
	const output = wrap( new Uint8Array( size ) );
	LZMA.decompress( input, input, output, size );
	return output.data;

}

test( 'js-lzma, the 2012 client\'s decoder, reads the legacy messages as FORMAT.md says', () => {

	const { width, height, frames } = vectors.legacy;
	let previous = null, decoded = 0;
	for ( const frame of frames.filter( ( f ) => ! ( 'error' in f.expect ) ) ) {

		const bytes = decode2012( fromBase64( frame.message ), 5 + width * height );
		const keyframe = bytes[ 0 ] === 1;
		assert.equal( keyframe, frame.expect.keyframe );
		assert.deepEqual( Array.from( bytes.subarray( 1, 5 ) ), frame.expect.means );
		const codes = bytes.slice( 5 );
		if ( ! keyframe ) for ( let i = 0; i < codes.length; i ++ ) codes[ i ] = ( previous[ i ] + codes[ i ] ) % 256;
		assert.deepEqual( codes, new Uint8Array( fromBase64( frame.expect.codes ) ) );
		previous = codes;
		decoded ++;

	}

	assert.equal( decoded, 4 );

} );
