// The classic-cm decoder's thread (a module worker): ContextWorker.js posts it each classic-cm
// payload in stream order; it keeps the stream's ContextStream and answers with the codes or the
// error. Only relative imports: import maps do not reach workers.
//
// ContextStream.js is imported dynamically, after the message handler is set: its ContextModel
// compiles the WebAssembly decoder at import (a top-level await), and messages that arrive while a
// module worker's top-level code still waits would find no handler. Every handler awaits the same
// import, so the payloads are still decoded in the order they came.

const loading = import( './ContextStream.js' );
let stream = null;

self.onmessage = async ( { data } ) => {

	const { id, width, height, keyframe, payload } = data;
	try {

		const { ContextStream } = await loading;
		if ( stream === null || stream.width !== width || stream.height !== height ) stream = new ContextStream( width, height );
		const codes = keyframe ? stream.decodeKeyframe( payload ) : stream.decodeDelta( payload );
		self.postMessage( { id, codes }, [ codes.buffer ] );

	} catch ( error ) {

		self.postMessage( { id, error: { name: error.name, message: error.message } } );

	}

};
