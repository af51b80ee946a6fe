// params: the page's query parameters, read once when the viewer starts.
//
//   ?ws=URL     the WebSocket to watch, URL-encoded or not (ws://, wss://, or http(s):// / a path,
//               taken relative to the page and switched to ws(s)://)
//   ?stream=N   a relay's named stream: /view/N on the host that served the page (ignored with ?ws=)
//   ?stats=1    show the stats panel
//   ?fog=0      turn the scene's fog off
//
// Without ?ws=, the viewer connects to /ws on the host that served the page (the source's direct
// mode and the relay's default stream both answer there), over wss:// when the page came by https.

function webSocketUrl( value, location ) {

	const url = new URL( value, location.href );
	if ( url.protocol === 'http:' ) url.protocol = 'ws:';
	if ( url.protocol === 'https:' ) url.protocol = 'wss:';
	return url.href;

}

function parseParams( location ) {

	// URLSearchParams percent-decodes, so ?ws=ws%3A%2F%2Fhost%3A9000%2Fws works as the 2012 client's did.
	const query = new URLSearchParams( location.search );
	const stream = query.get( 'stream' ) || null;
	const defaultPath = stream === null ? '/ws' : `/view/${encodeURIComponent( stream )}`;
	return Object.freeze( {
		wsUrl: webSocketUrl( query.get( 'ws' ) || defaultPath, location ),
		stream,
		stats: query.get( 'stats' ) === '1',
		fog: query.get( 'fog' ) !== '0',
	} );

}

const params = parseParams( globalThis.location );

export { params };
