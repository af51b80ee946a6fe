// The 2012 client's decode, step by step, drawing on a 2D canvas instead of its three.js r48 cloud.
// `?ws=` is taken verbatim as the WebSocket URL (the 2012 client did not unescape it), default
// `ws://` + this page's host. Status for the tests: window.legacy2012.
( function () {

	'use strict';

	const W = 158, H = 120, USE_EVERY = 4;
	const RAW_DATA_LEN = 5 + W * H;
	const status = window.legacy2012 = { framesReceived: 0, framesDrawn: 0, keyframes: 0, errors: [], dynaPan: 0, wsUrl: null };

	let wsUrl = 'ws://' + window.location.host;
	for ( const pair of window.location.search.substring( 1 ).split( '&' ) ) {

		const [ key, value ] = pair.split( '=' );
		if ( key === 'ws' ) wsUrl = value;

	}
	status.wsUrl = wsUrl;

	// The 2012 client's only addition to js-lzma: a byte stream over a Uint8Array.
	function wrap( array ) {

		return {
			data: array, offset: 0,
			readByte() { return this.data[ this.offset ++ ]; },
			writeByte( value ) { this.data[ this.offset ++ ] = value; },
		};

	}

	const outArrays = [ new Uint8Array( RAW_DATA_LEN ), new Uint8Array( RAW_DATA_LEN ) ];
	let current = 0, previous = 1, seenKeyframe = false;
	const canvas = document.querySelector( 'canvas' );
	const context = canvas.getContext( '2d' );


	// One ImageData a frame: a 3 x 3 dot a code, on a 4 x 4 grid (the 2012 cloud's spacing).
	const image = context.createImageData( canvas.width, canvas.height );

	function draw( bytes ) {

		const pixels = image.data;
		pixels.fill( 0 );
		for ( let y = 0; y < H; y ++ ) {

			for ( let x = 0; x < W; x ++ ) {

				const code = bytes[ 5 + y * W + x ];
				if ( code === 255 ) continue; // the 2012 client moved these particles out of sight
				// The 2012 particles were white; here nearer ones are brighter (its z = (128 - code) * 10).
				const shade = 255 - ( code >> 1 );
				for ( let dy = 0; dy < 3; dy ++ ) {

					let offset = ( ( y * USE_EVERY + dy ) * canvas.width + x * USE_EVERY ) * 4;
					for ( let dx = 0; dx < 3; dx ++, offset += 4 ) {

						pixels[ offset ] = pixels[ offset + 1 ] = pixels[ offset + 2 ] = shade;
						pixels[ offset + 3 ] = 255;

					}

				}

			}

		}

		context.putImageData( image, 0, 0 );

	}

	function onMessage( event ) {

		status.framesReceived ++;
		[ current, previous ] = [ previous, current ];
		const inStream = wrap( new Uint8Array( event.data ) );
		const outStream = wrap( outArrays[ current ] );
		try {

			// The properties are the message's first 5 bytes; the raw stream follows them.
			LZMA.decompress( inStream, inStream, outStream, RAW_DATA_LEN );

		} catch ( error ) {

			status.errors.push( String( error ) );
			return;

		}

		const bytes = outArrays[ current ], prevBytes = outArrays[ previous ];
		const keyframe = bytes[ 0 ];
		if ( ! ( keyframe || seenKeyframe ) ) return;
		seenKeyframe = true;
		if ( keyframe ) status.keyframes ++;
		const [ qtl, qtr, qbl, qbr ] = bytes.subarray( 1, 5 );
		status.dynaPan = status.dynaPan * 0.9 + ( ( qtr + qbr ) - ( qtl + qbl ) ) * 0.1;
		if ( ! keyframe ) {

			for ( let i = 5; i < RAW_DATA_LEN; i ++ ) bytes[ i ] = ( prevBytes[ i ] + bytes[ i ] ) % 256;

		}

		draw( bytes );
		status.framesDrawn ++;

	}

	const ws = new WebSocket( wsUrl );
	ws.binaryType = 'arraybuffer';
	ws.onmessage = onMessage;
	ws.onclose = () => { status.closed = true; };

} )();
