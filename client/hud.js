// Hud: the viewer's overlay, with the connection's state and the stream's rate, and a stats panel.
//
// The status line is always there: what ViewerStatus says (connecting to where, waiting for a
// source, live, stalled, reconnecting and why), frames/s and KB/s received, and the age of the
// frame on screen (capture_time_us against this machine's clock, so it includes any clock offset
// between source and viewer). `?stats=1` adds the panel: stats.js (render frames/s, ms) as the 2012
// client had, a decode-time graph, and details. Everything stays inside a 390 px wide phone screen.

import Stats from 'three/addons/libs/stats.module.js';

const STYLE = `
.depthcam-hud { position: fixed; left: 12px; bottom: 12px; z-index: 10; pointer-events: none;
	max-width: calc( 100vw - 24px ); overflow-wrap: anywhere;
	font: 13px/1.45 system-ui, sans-serif; color: #d8dee9; text-shadow: 0 1px 2px #000; }
.depthcam-hud .state::before { content: '●'; margin-right: 6px; color: #f0a030; }
.depthcam-hud[data-state="live"] .state::before { color: #5fd38d; }
.depthcam-hud[data-state="stalled"] .state::before,
.depthcam-hud[data-state="reconnecting"] .state::before { color: #e05050; }
.depthcam-hud .details { white-space: pre-wrap; font: 12px/1.4 ui-monospace, monospace; opacity: 0.85; }
.depthcam-hud .error { color: #f08080; }
/* A picture that is no longer current (stalled, reconnecting) greys out. */
canvas.depthcam-stale { filter: grayscale( 1 ) brightness( 0.6 ); }
`;

class Hud {

	/**
	 * @param {HTMLElement} container where the overlay goes (the page body).
	 * @param {ViewerStatus} status the status to show (read at each refresh).
	 * @param {object} [options]
	 * @param {boolean} [options.showStats] add the stats panel (`?stats=1`).
	 */
	constructor( container, status, { showStats = false } = {} ) {

		/** Span over which rates are averaged, ms. Default 2000. */
		this.rateWindow = 2000;
		/** Shortest time between two text refreshes, ms (the DOM need not change 60 times a second). Default 250. */
		this.refreshInterval = 250;

		this._style = document.createElement( 'style' );
		this._style.textContent = STYLE;
		this._root = document.createElement( 'div' );
		this._root.className = 'depthcam-hud';
		this._status = document.createElement( 'div' );
		this._status.className = 'state';
		this._rates = document.createElement( 'div' );
		this._error = document.createElement( 'div' );
		this._error.className = 'error';
		this._root.append( this._status, this._rates, this._error );

		this._stats = null;
		this._decodePanel = null;
		this._details = null;
		if ( showStats ) {

			this._stats = new Stats();
			// Milliseconds under a short name, so "10 dec (8-14)" fits the panel's 80 px as stats.js's
			// own "MS" does ("µs decode" was cut off); the details line gives two decimals.
			this._decodePanel = this._stats.addPanel( new Stats.Panel( 'dec', '#fc6', '#210' ) );
			this._stats.dom.style.left = 'auto';
			this._stats.dom.style.right = '0';
			this._details = document.createElement( 'div' );
			this._details.className = 'details';
			this._root.append( this._details );

		}

		container.append( this._style, this._root );
		if ( this._stats ) container.append( this._stats.dom );

		this._viewerStatus = status;
		this._arrivals = []; // [time ms, bytes] of recent messages
		this._captureTimeUs = 0;
		this._header = null;
		this._decodeMs = 0;
		this._points = 0;
		this._framesDecoded = 0;
		this._errors = 0;
		this._lastRefresh = - Infinity;

	}

	/** The status changed (a new connection state): refresh at the next `end()`. */
	statusChanged() {

		if ( this._viewerStatus.state === 'reconnecting' ) this._arrivals.length = 0;
		this._lastRefresh = - Infinity;

	}

	/** A message of `bytes` arrived, decodable or not. */
	countMessage( bytes, now = performance.now() ) {

		this._arrivals.push( [ now, bytes ] );

	}

	/** A frame was decoded and drawn: its header, the ms spent decoding and drawing it, the points
	 * shown, and its profile's name. */
	frameShown( header, decodeMs, points, profile ) {

		this._header = header;
		this._profile = profile;
		this._captureTimeUs = header.capture_time_us;
		this._decodeMs = decodeMs;
		this._points = points;
		this._framesDecoded ++;
		this._error.textContent = '';
		if ( this._decodePanel ) this._decodePanel.update( decodeMs, 33 );

	}

	/** A message was rejected (an Error named as in FORMAT.md). */
	showError( error ) {

		this._errors ++;
		this._error.textContent = `${error.name}: ${error.message}`;

	}

	/** Call once per rendered frame, around the render (`begin` before it, `end` after). */
	begin() {

		if ( this._stats ) this._stats.begin();

	}

	end( now = performance.now() ) {

		if ( this._stats ) this._stats.end();
		if ( now - this._lastRefresh < this.refreshInterval ) return;
		this._lastRefresh = now;
		this._refresh( now );

	}

	/** Remove the overlay and the stats panel from the page. */
	dispose() {

		this._style.remove();
		this._root.remove();
		if ( this._stats ) this._stats.dom.remove();

	}

	_refresh( now ) {

		const status = this._viewerStatus;
		this._root.dataset.state = status.state;
		this._status.textContent = status.label( now );

		while ( this._arrivals.length && now - this._arrivals[ 0 ][ 0 ] > this.rateWindow ) this._arrivals.shift();
		const seconds = this.rateWindow / 1000;
		const framesPerSecond = this._arrivals.length / seconds;
		const kilobytesPerSecond = this._arrivals.reduce( ( sum, [ , bytes ] ) => sum + bytes, 0 ) / 1000 / seconds;
		const age = this._captureTimeUs > 0 ? `${Math.round( Date.now() - this._captureTimeUs / 1000 )} ms old` : 'no frame yet';
		this._rates.textContent = status.state === 'live' || status.state === 'stalled' || this._arrivals.length
			? `${framesPerSecond.toFixed( 1 )} frames/s · ${kilobytesPerSecond.toFixed( 1 )} KB/s · ${age}`
			: '';

		if ( this._details && this._header ) {

			const header = this._header;
			this._details.textContent = [
				`frame    ${this._profile} ${header.width}×${header.height}, #${header.sequence}${header.flags & 1 ? ' key' : ''}`,
				`range    ${header.near_mm}–${header.far_mm} mm`,
				`points   ${this._points}`,
				`decode   ${this._decodeMs.toFixed( 2 )} ms (with geometry)`,
				`motion   ${( header.motion_weight / 655.35 ).toFixed( 1 )} % at ${header.motion_depth_mm} mm`,
				`shown    ${this._framesDecoded}, rejected ${this._errors}`,
			].join( '\n' );

		}

	}

}

export { Hud };
