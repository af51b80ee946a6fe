// ContextWorker: classic-cm payloads decoded on another thread (decodeWorker.js), so the page's
// render loop never waits for them (they take several ms a frame; FORMAT.md, *JavaScript decoder*).
// StreamDecoder.decodeAsync uses it; the stream rules stay on the page's thread.

import { codecError } from './codecError.js';

export class ContextWorker {

	/** Starts the worker; throws where the browser has no module workers. */
	constructor( url = new URL( './decodeWorker.js', import.meta.url ) ) {

		this._worker = new Worker( url, { type: 'module' } );
		this._pending = new Map(); // id → { resolve, reject }
		this._nextId = 0;
		/** Payloads decoded by the worker so far. */
		this.decoded = 0;
		/** True once the worker has failed (say, its script did not load): decode on the page then. */
		this.failed = false;
		this._worker.onmessage = ( { data } ) => this._answer( data );
		this._worker.onerror = ( event ) => {

			this.failed = true;
			this._failAll( event.message || 'decoder worker failed' );

		};

	}

	/**
	 * The codes (Uint8Array) of one classic-cm payload (Uint8Array), in stream order: the worker
	 * keeps the model, so every payload of the stream must pass through here, one after another.
	 */
	decode( header, payload, keyframe ) {

		const id = this._nextId ++;
		const copy = payload.slice(); // its own buffer, handed over without copying again
		return new Promise( ( resolve, reject ) => {

			this._pending.set( id, { resolve, reject } );
			this._worker.postMessage( { id, width: header.width, height: header.height, keyframe, payload: copy }, [ copy.buffer ] );

		} );

	}

	/** Stops the worker; pending decodes fail. */
	dispose() {

		this._worker.terminate();
		this._failAll( 'decoder worker stopped' );

	}

	_answer( { id, codes, error } ) {

		const pending = this._pending.get( id );
		if ( pending === undefined ) return;
		this._pending.delete( id );
		if ( error ) {

			pending.reject( codecError( error.name, error.message ) );
			return;

		}

		this.decoded ++;
		pending.resolve( codes );

	}

	_failAll( message ) {

		for ( const { reject } of this._pending.values() ) reject( new Error( message ) );
		this._pending.clear();

	}

}
