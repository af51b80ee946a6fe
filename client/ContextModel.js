// ContextModel: the decoder of classic-cm's coded bits, keyframes and deltas (FORMAT.md,
// *classic-cm (id 5)*): codec/_contextmodel.c itself, compiled to WebAssembly by
// `make client/contextmodel.wasm` (clang --target=wasm32, freestanding), so the browser runs the
// very coder the source encodes with. State lives from one keyframe to the next, so the decoder
// must see every frame in between; each ContextModel has its own instance (its own memory).
//
// The module is compiled once, when this file is imported (a top-level await, as decoder.js loads
// liblzma): fetched in a browser or worker, read from disk in node. If it cannot be loaded (not
// built), the other profiles still decode, and classic-cm is refused as UnknownProfileError, as
// the Python decoder refuses it without its compiled coder.

import { codecError } from './codecError.js';

const WASM_URL = new URL( './contextmodel.wasm', import.meta.url );

async function wasmBytes( url ) {

	if ( url.protocol === 'file:' ) {

		const { readFile } = await import( 'node:fs/promises' );
		return readFile( url );

	}

	const response = await fetch( url );
	if ( ! response.ok ) throw new Error( `${url}: HTTP ${response.status} (make builds contextmodel.wasm)` );
	return response.arrayBuffer();

}

let wasmModule = null, loadError = null;
try {

	wasmModule = await WebAssembly.compile( await wasmBytes( WASM_URL ) );

} catch ( error ) {

	loadError = error;

}

// cm_decode's answers (codec/_contextmodel.c, *WebAssembly decoder*).
const CODE_OUT_OF_RANGE = - 2;
const DELTA_WITHOUT_KEYFRAME = - 3;

export class ContextModel {

	constructor( width, height ) {

		if ( wasmModule === null ) {

			throw codecError( 'UnknownProfileError', `classic-cm needs ${WASM_URL}, which did not load: ${loadError.message}` );

		}

		this.width = width;
		this.height = height;
		this._exports = new WebAssembly.Instance( wasmModule, {} ).exports;
		if ( this._exports.cm_init( width, height ) !== 0 ) throw new Error( `no classic-cm model for ${width} x ${height}` );

	}

	/** The codes of a keyframe (a new Uint8Array): the model starts afresh. */
	decodeKeyframe( bytes ) {

		return this._decode( bytes, 1 );

	}

	/**
	 * The codes of one delta frame from its coded bytes; advances the model. Throws a plain Error
	 * when the bytes decode to codes out of range (the caller names it CorruptPayloadError).
	 */
	decode( bytes ) {

		return this._decode( bytes, 0 );

	}

	_decode( bytes, keyframe ) {

		const wasm = this._exports;
		const input = wasm.cm_input( bytes.length );
		if ( input === 0 && bytes.length > 0 ) throw new Error( 'out of memory for the payload' );
		new Uint8Array( wasm.memory.buffer, input, bytes.length ).set( bytes );
		const result = wasm.cm_decode( keyframe, bytes.length );
		if ( result === CODE_OUT_OF_RANGE ) {

			throw new Error( `payload decodes to code ${wasm.cm_bad_code()} at pixel ${wasm.cm_bad_pixel()}` );

		}

		if ( result === DELTA_WITHOUT_KEYFRAME ) throw new Error( 'a delta before any keyframe' );
		// A copy: the model's buffer is overwritten by the next frame, and callers keep codes.
		return new Uint8Array( wasm.memory.buffer, wasm.cm_codes(), this.width * this.height ).slice();

	}

}
