// client/ViewerStatus.js without a browser: the states and words a Connection's events lead to.
//
//   node --test tests/client/

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ViewerStatus, closeReason } from '../../client/ViewerStatus.js';

const ADDRESS = 'ws://example.test:9000/ws';

function connection( lastClose, nextAttemptTime = 2000 ) {

	return { lastClose, nextAttemptTime, connectTimeout: 10000 };

}

test( 'connecting, waiting, live, stalled, live again', () => {

	const status = new ViewerStatus( ADDRESS );
	assert.equal( status.label( 0 ), `connecting to ${ADDRESS}…` );
	status.connectionChanged( 'open', connection( null ), 0 );
	assert.equal( status.state, 'waiting' );
	assert.match( status.label( 0 ), /no source yet/ );
	status.update( 60000 ); // no frame ever: still waiting, not stalled
	assert.equal( status.state, 'waiting' );
	status.frameArrived( 1000 );
	assert.equal( status.state, 'live' );
	status.update( 1000 + status.stallTime * 1000 );
	assert.equal( status.state, 'live' );
	status.update( 1001 + status.stallTime * 1000 );
	assert.equal( status.state, 'stalled' );
	assert.ok( status.stale );
	assert.equal( status.label( 6500 ), 'stalled: no frame for 5 s (source paused or gone)' );
	status.frameArrived( 7000 );
	assert.equal( status.state, 'live' );
	assert.ok( ! status.stale );

} );

test( 'each way a socket ends has its own words', () => {

	assert.equal( closeReason( { opened: false, code: 1006, reason: '', timedOut: false } ),
		'refused: nothing accepted the connection, or the server turned it away' );
	assert.equal( closeReason( { opened: false, code: 0, reason: '', timedOut: true }, { connectTimeout: 10000 } ),
		'unreachable: no answer in 10 s' );
	assert.equal( closeReason( { opened: false, code: 1006, reason: '', timedOut: false }, { offline: true } ),
		'unreachable: this device is offline' );
	assert.equal( closeReason( { opened: true, code: 1006, reason: '', timedOut: false } ),
		'closed with code 1006 (connection lost)' );
	assert.equal( closeReason( { opened: true, code: 4003, reason: 'no such stream', timedOut: false } ),
		'closed with code 4003: no such stream' );

} );

test( 'reconnecting names the address, the wait and the reason', () => {

	const status = new ViewerStatus( ADDRESS );
	status.connectionChanged( 'reconnecting', connection( { opened: true, code: 1001, reason: '', timedOut: false }, 3500 ), 1000 );
	assert.equal( status.label( 1000 ), `reconnecting to ${ADDRESS} (next try in 3 s) · closed with code 1001 (the server is going away)` );

} );

test( 'without WebGL nothing else is claimed', () => {

	const status = new ViewerStatus( ADDRESS );
	status.webGLUnavailable( 'this browser has no WebGL 2.' );
	status.connectionChanged( 'open', connection( null ) );
	assert.equal( status.state, 'no-webgl' );
	assert.match( status.label(), /^WebGL not available: this browser has no WebGL 2\. .*hardware acceleration/ );

} );
