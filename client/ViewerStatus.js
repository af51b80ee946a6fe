// ViewerStatus: what the viewer can truthfully say about its stream, from the socket's events and
// the frames' arrival times.
//
// States, in the order a viewer meets them:
//   'connecting'    the first attempt to reach `address` is under way
//   'waiting'       the socket is open but no frame has come (a relay stream with no source yet)
//   'live'          frames arrive
//   'stalled'       the socket is open but no frame came for `stallTime` (the source paused or died
//                   behind a relay, or the network stopped delivering)
//   'reconnecting'  the socket ended (`reason` says how) and another attempt is due
//   'no-webgl'      this browser cannot draw; nothing else is tried
//   'closed'        the viewer was shut down
// The model keeps no timers: `update( now )` (called once per rendered frame) notices a stall.

const CLOSE_CODE_MEANINGS = Object.freeze( {
	1000: 'normal closure',
	1001: 'the server is going away',
	1006: 'connection lost',
	1008: 'policy violation',
	1009: 'message too big',
	1011: 'server error',
	1012: 'server restarting',
	1013: 'server busy, try again later',
} );

/** The reason a socket ended, in words, from Connection.lastClose. */
function closeReason( lastClose, { offline = false, connectTimeout = 0 } = {} ) {

	if ( lastClose === null ) return '';
	if ( offline ) return 'unreachable: this device is offline';
	if ( lastClose.timedOut ) return `unreachable: no answer in ${Math.round( connectTimeout / 1000 )} s`;
	if ( ! lastClose.opened ) {

		// Browsers hide why a handshake failed (code 1006 for a closed port and an HTTP 403 alike).
		return lastClose.reason ? `refused: ${lastClose.reason}` : 'refused: nothing accepted the connection, or the server turned it away';

	}

	const meaning = CLOSE_CODE_MEANINGS[ lastClose.code ];
	const said = lastClose.reason ? `: ${lastClose.reason}` : '';
	return `closed with code ${lastClose.code}${meaning ? ` (${meaning})` : ''}${said}`;

}

class ViewerStatus {

	/**
	 * @param {string} address the WebSocket URL the viewer watches, shown in the messages.
	 */
	constructor( address ) {

		/** The WebSocket URL watched. */
		this.address = address;
		/** No frame for this long on an open socket means 'stalled', s. Default 3 (ten frames at the slowest useful rate). */
		this.stallTime = 3;

		/** One of the states above. Read-only. */
		this.state = 'connecting';
		/** Why the last socket ended, in words ('' before any did). Read-only. */
		this.reason = '';
		/** What went wrong with WebGL, in the browser's words, while 'no-webgl'. Read-only. */
		this.webGLProblem = '';
		/** When the next attempt starts while 'reconnecting', performance.now() ms. Read-only. */
		this.nextAttemptTime = 0;
		/** When the last frame arrived, performance.now() ms (null: none on this socket yet). Read-only. */
		this.lastFrameTime = null;

	}

	/** True while a picture from the stream is on screen but not current (grey it out). */
	get stale() {

		return this.state === 'stalled' || this.state === 'reconnecting' || this.state === 'closed';

	}

	/** Connection's state changed; `connection` is read for the reason and the next attempt's time. */
	connectionChanged( state, connection, now = performance.now() ) {

		if ( this.state === 'no-webgl' ) return;
		if ( state === 'open' ) {

			this.state = 'waiting';
			this.lastFrameTime = null;

		} else if ( state === 'reconnecting' ) {

			this.state = 'reconnecting';
			this.nextAttemptTime = connection.nextAttemptTime;
			this.reason = closeReason( connection.lastClose, {
				offline: globalThis.navigator !== undefined && globalThis.navigator.onLine === false,
				connectTimeout: connection.connectTimeout,
			} );

		} else {

			this.state = state;

		}

	}

	/** A message arrived on the open socket. */
	frameArrived( now = performance.now() ) {

		this.lastFrameTime = now;
		if ( this.state === 'waiting' || this.state === 'stalled' ) this.state = 'live';

	}

	/** The browser cannot draw: `problem` says why, in its words. */
	webGLUnavailable( problem ) {

		this.state = 'no-webgl';
		this.webGLProblem = problem;

	}

	/** Call often (each rendered frame): turns 'live' into 'stalled' once frames stop. */
	update( now = performance.now() ) {

		if ( this.state === 'live' && now - this.lastFrameTime > this.stallTime * 1000 ) this.state = 'stalled';

	}

	/** The status line, in words. */
	label( now = performance.now() ) {

		switch ( this.state ) {

			case 'connecting':
				return `connecting to ${this.address}…`;
			case 'waiting':
				return `connected to ${this.address} · no source yet: waiting for its first frame`;
			case 'live':
				return 'live';
			case 'stalled':
				return `stalled: no frame for ${Math.floor( ( now - this.lastFrameTime ) / 1000 )} s (source paused or gone)`;
			case 'reconnecting': {

				const wait = Math.max( 0, Math.ceil( ( this.nextAttemptTime - now ) / 1000 ) );
				return `reconnecting to ${this.address} (next try in ${wait} s) · ${this.reason}`;

			}

			case 'no-webgl':
				return `WebGL not available: ${this.webGLProblem} To see the point cloud, turn on hardware acceleration (graphics acceleration) in the browser's settings, or open the page in another browser; INSTALL.md, "Troubleshooting", has more.`;
			default:
				return this.state;

		}

	}

}

export { ViewerStatus, closeReason };
