// Connection: one WebSocket's bytes to the viewer, reconnecting with capped exponential backoff.
//
// It moves bytes only: binary messages go to `onMessage` as ArrayBuffers, text is ignored (the
// servers send none), and `requestResync()` sends FORMAT.md's one control message. It does not
// parse frames; a new `open` means a new stream, which main.js meets with a fresh decoder.
//
// Why the last socket ended is kept in `lastClose` for the HUD: a socket that never opened was
// refused (a browser gives every failed handshake code 1006 at once, so it cannot tell "nothing
// listens" from "the server said no") or, when nothing answered within `connectTimeout`,
// unreachable; one that was open closed with the code and reason its close frame gave.

class Connection {

	/**
	 * @param {string} url ws:// or wss:// URL.
	 * @param {object} [options]
	 * @param {function(ArrayBuffer)} [options.onMessage] called with each binary message.
	 * @param {function(string, Connection)} [options.onStateChange] called with 'connecting', 'open',
	 *   'reconnecting' or 'closed' (after dispose()), and this Connection.
	 * @param {typeof WebSocket} [options.WebSocket] the WebSocket class (tests may pass another).
	 */
	constructor( url, { onMessage = () => {}, onStateChange = () => {}, WebSocket = globalThis.WebSocket } = {} ) {

		this.url = url;

		/** Wait before the first reconnect, ms. Default 500. */
		this.minReconnectDelay = 500;
		/** Longest wait between reconnects, ms. Default 5000. */
		this.maxReconnectDelay = 5000;
		/** Each failed attempt multiplies the wait by this. Default 2. */
		this.reconnectBackoff = 2;
		/** An attempt with no answer for this long is given up as unreachable, ms. Default 10000. */
		this.connectTimeout = 10000;

		this.onMessage = onMessage;
		this.onStateChange = onStateChange;

		/** 'connecting' | 'open' | 'reconnecting' | 'closed'. Read-only. */
		this.state = 'connecting';
		/** When the next attempt starts while 'reconnecting', a performance.now() time in ms (for the HUD). */
		this.nextAttemptTime = 0;
		/**
		 * How the last socket ended, or null before any did: `{ opened, code, reason, timedOut }`
		 * (whether it had opened, the close code and reason, whether `connectTimeout` ended it). Read-only.
		 */
		this.lastClose = null;

		this._WebSocket = WebSocket;
		this._socket = null;
		this._timer = null;
		this._connectTimer = null;
		this._nextDelay = this.minReconnectDelay;

		this._onOpen = this._onOpen.bind( this );
		this._onMessage = this._onMessage.bind( this );
		this._onClose = this._onClose.bind( this );

		this._connect();

	}

	/** Ask the server for an absolute frame (say, after a SequenceGapError). False when not open. */
	requestResync() {

		if ( this.state !== 'open' ) return false;
		this._socket.send( JSON.stringify( { type: 'resync' } ) );
		return true;

	}

	/** Close the socket, stop reconnecting and remove every listener this added. */
	dispose() {

		clearTimeout( this._timer );
		this._timer = null;
		this._dropSocket();
		this._setState( 'closed' );

	}

	_connect() {

		// The state stays 'connecting' or 'reconnecting' until the socket opens.
		let socket;
		try {

			socket = new this._WebSocket( this.url );

		} catch ( error ) {

			// A malformed URL throws here rather than closing: retrying will not fix it, but the
			// HUD keeps saying "reconnecting" instead of the page going blank.
			console.error( `depthcam: cannot open ${this.url}:`, error );
			this.lastClose = { opened: false, code: 0, reason: error.message, timedOut: false };
			this._scheduleReconnect();
			return;

		}

		socket.binaryType = 'arraybuffer';
		socket.addEventListener( 'open', this._onOpen );
		socket.addEventListener( 'message', this._onMessage );
		socket.addEventListener( 'close', this._onClose );
		this._socket = socket;
		this._connectTimer = setTimeout( () => {

			// No answer at all (a host that drops packets, a listener that never replies): give up
			// on this attempt rather than wait minutes for the system's TCP timeout.
			this._connectTimer = null;
			this._dropSocket();
			this.lastClose = { opened: false, code: 0, reason: '', timedOut: true };
			this._scheduleReconnect();

		}, this.connectTimeout );

	}

	_onOpen() {

		this._clearConnectTimer();
		this._nextDelay = this.minReconnectDelay;
		this._setState( 'open' );

	}

	_onMessage( event ) {

		if ( event.data instanceof ArrayBuffer ) this.onMessage( event.data );

	}

	_onClose( event ) {

		// 'error' always comes with a 'close', so this one listener covers both.
		this.lastClose = { opened: this.state === 'open', code: event.code, reason: event.reason, timedOut: false };
		this._dropSocket();
		this._scheduleReconnect();

	}

	_scheduleReconnect() {

		this.nextAttemptTime = performance.now() + this._nextDelay;
		this._setState( 'reconnecting' );
		this._timer = setTimeout( () => {

			this._timer = null;
			this._connect();

		}, this._nextDelay );
		this._nextDelay = Math.min( this._nextDelay * this.reconnectBackoff, this.maxReconnectDelay );

	}

	_clearConnectTimer() {

		clearTimeout( this._connectTimer );
		this._connectTimer = null;

	}

	_dropSocket() {

		this._clearConnectTimer();
		const socket = this._socket;
		if ( socket === null ) return;
		this._socket = null;
		socket.removeEventListener( 'open', this._onOpen );
		socket.removeEventListener( 'message', this._onMessage );
		socket.removeEventListener( 'close', this._onClose );
		if ( socket.readyState === socket.CONNECTING || socket.readyState === socket.OPEN ) socket.close();

	}

	_setState( state ) {

		// 'reconnecting' repeats on each failed attempt, so the HUD can show the new wait.
		if ( state === this.state && state !== 'reconnecting' ) return;
		this.state = state;
		this.onStateChange( state, this );

	}

}

export { Connection };
