// The classic-cm decoder's thread (a module worker): ContextWorker.js posts it each classic-cm
// payload in stream order; it keeps the stream's ContextStream and answers with the codes or the
// error. Only relative imports: import maps do not reach workers.

import { ContextStream } from './ContextStream.js';

let stream = null;

self.onmessage = ( { data } ) => {

	const { id, width, height, keyframe, payload } = data;
	try {

		if ( stream === null || stream.width !== width || stream.height !== height ) stream = new ContextStream( width, height );
		const codes = keyframe ? stream.decodeKeyframe( payload ) : stream.decodeDelta( payload );
		self.postMessage( { id, codes }, [ codes.buffer ] );

	} catch ( error ) {

		self.postMessage( { id, error: { name: error.name, message: error.message } } );

	}

};
