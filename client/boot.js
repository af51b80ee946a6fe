// boot: starts the viewer where the browser can draw it, and says plainly why not where it cannot.
//
// The check comes before main.js is loaded, because three.js's renderer throws on a page without
// WebGL 2 and would leave "loading…" on screen with only a console message to explain it.

import { ViewerStatus } from './ViewerStatus.js';
import { params } from './params.js';

const bootLine = document.getElementById( 'boot' );

/** Why this page cannot have a WebGL 2 context, as a sentence, or null when it can. */
function webGLProblem() {

	if ( typeof WebGL2RenderingContext === 'undefined' ) return 'this browser has no WebGL 2.';
	let detail = '';
	const canvas = document.createElement( 'canvas' );
	// The browser says why in this event (blocklisted GPU, WebGL turned off) when it says anything.
	canvas.addEventListener( 'webglcontextcreationerror', ( event ) => {

		detail = event.statusMessage || '';

	}, { once: true } );
	const context = canvas.getContext( 'webgl2' );
	if ( context !== null ) {

		const lose = context.getExtension( 'WEBGL_lose_context' );
		if ( lose ) lose.loseContext(); // give the test context back before the renderer makes its own
		return null;

	}

	return detail ? `the browser refused a WebGL 2 context (${detail}).` : 'the browser refused a WebGL 2 context (WebGL is turned off or the graphics driver is blocked).';

}

function showNoWebGL( problem ) {

	const status = new ViewerStatus( params.wsUrl );
	status.webGLUnavailable( problem );
	bootLine.textContent = status.label();
	bootLine.dataset.state = status.state;
	// The same read-only status the running viewer gives, for tests and curious users.
	window.depthcam = Object.freeze( { viewerState: status.state, statusText: status.label(), wsUrl: params.wsUrl } );

}

const problem = webGLProblem();
if ( problem === null ) {

	import( './main.js' ).catch( ( error ) => {

		console.error( 'depthcam: the viewer did not start:', error );
		bootLine.textContent = /WebGL/i.test( error.message )
			? `WebGL not available: ${error.message}`
			: 'The viewer could not load its modules: run npm install in client/ (see INSTALL.md).';

	} );

} else {

	showNoWebGL( problem );

}
