// main: wires the viewer together: socket → decoder → point cloud → camera → screen, plus the HUD.
//
// Frames are decoded as they arrive (each delta needs the one before), but the cloud is rebuilt at
// most once per screen refresh, from the newest decoded frame. The first frame of a stream frames
// the view (ViewFitter), as R or "reset view" does again. `window.depthcam` is a read-only status
// for tests and curious users: the fields of `status` below, as getters.

import { Color, Fog, PerspectiveCamera, Scene, Vector3, WebGLRenderer } from 'three';

import { ColourToggle } from './ColourToggle.js';
import { Connection } from './connection.js';
import { ContextWorker } from './ContextWorker.js';
import { StreamDecoder, profileName } from './decoder.js';
import { FollowCamera } from './FollowCamera.js';
import { Hud } from './hud.js';
import { params } from './params.js';
import { PointCloud } from './PointCloud.js';
import { saveSnapshot } from './snapshot.js';
import { Toolbar } from './Toolbar.js';
import { ViewerStatus } from './ViewerStatus.js';
import { ViewFitter } from './ViewFitter.js';

// A dark solid colour, so the points stand out and a test can tell them from the background.
const BACKGROUND_COLOUR = '#0b0d12';
// Fog starts at the cloud's centre and is complete this many of the cloud's depths behind it (or
// one viewing distance, when that is more): a depth cue that hides the far wall's noisy edges
// gently, measured from the cloud, so zooming out never fades the whole cloud away.
const FOG_DEPTHS = 2;
const CAMERA_FOV_DEGREES = 60;
const CAMERA_NEAR = 0.05; // m
const CAMERA_FAR = 50; // m
// After a decode error, ask the server again for an absolute frame at most this often, ms: every
// delta after a gap fails until the catch-up frame comes, and one request is enough.
const RESYNC_INTERVAL_MS = 1000;
// Errors a fresh absolute frame can cure; the others (a foreign or future stream) it cannot.
const RESYNC_ERRORS = new Set( [ 'SequenceGapError', 'MissingKeyframeError', 'CorruptPayloadError' ] );
// A longer gap between two rendered frames (a hidden tab) is not animated as one step, s.
const MAX_FRAME_STEP = 0.1;

const status = {
	connectionState: 'connecting', // 'connecting' | 'open' | 'reconnecting' | 'closed'
	wsUrl: params.wsUrl,
	framesReceived: 0, // binary messages received
	framesDecoded: 0, // ... of which decoded
	framesDrawn: 0, // renders that showed a newly decoded frame
	lastSequence: null, // sequence of the last decoded frame
	lastError: null, // name of the last decode error (as in FORMAT.md), or null
	resyncRequests: 0,
	points: 0, // points drawn in the last frame shown
	decodeMs: 0, // decode + geometry update of the last frame shown, ms
	updateMs: 0, // ... of which PointCloud.update, ms
	renderMs: 0, // main-thread time of the last render call (the depth upload included), ms
	profile: null, // FORMAT.md name of the last frame shown's profile ('classic-cm', ...)
	workerDecodes: 0, // classic-cm payloads decoded off the page's thread
	frameWidth: 0, // columns of the last frame shown
	frameHeight: 0, // rows of the last frame shown
	colourFrames: 0, // frames shown in their colour picture's colours
	colourShown: false, // whether the last frame shown was drawn in its picture's colours
	colourErrors: 0, // colour pictures the browser could not decode (those frames: depth colours)
	colourDecodeMs: 0, // createImageBitmap time of the last picture, ms
	intrinsics: null, // {fx, fy, cx, cy} the last frame came with (px), or null: the Kinect's lens
	frameAgeMs: 0, // capture_time_us of the last frame shown against this clock, as it went to the screen, ms
	sequenceShown: null, // sequence of the frame on screen
	viewFits: 0, // times the view was fitted to the cloud (first frame, reset, resize)
	snapshots: 0, // frames saved
	background: BACKGROUND_COLOUR,
};

const canvas = document.getElementById( 'view' );
// preserveDrawingBuffer keeps the last picture readable (screenshots, the browser test's pixel
// checks) at the cost of one copy of the canvas per frame, whatever the number of points.
const renderer = new WebGLRenderer( { canvas, preserveDrawingBuffer: true } );
renderer.setPixelRatio( Math.min( window.devicePixelRatio, 2 ) );
renderer.setSize( window.innerWidth, window.innerHeight );

const scene = new Scene();
scene.background = new Color( BACKGROUND_COLOUR );
// Its distances follow the camera's to the cloud (updateFog).
if ( params.fog ) scene.fog = new Fog( BACKGROUND_COLOUR, CAMERA_FAR, CAMERA_FAR );

const camera = new PerspectiveCamera( CAMERA_FOV_DEGREES, window.innerWidth / window.innerHeight, CAMERA_NEAR, CAMERA_FAR );
const cloud = new PointCloud();
scene.add( cloud );
const followCamera = new FollowCamera( camera, canvas );
const viewerStatus = new ViewerStatus( params.wsUrl );
const hud = new Hud( document.body, viewerStatus, { showStats: params.stats } );
const viewFitter = new ViewFitter();
// The cloud's depth along the view at the last fit, metres (the fog's scale).
let cloudDepth = 0;
// Fit the view at the next frame shown: the first of a stream, unless the user has moved the view.
let fitPending = true;
const toolbar = new Toolbar( document.body, { resetView: fitView, save } );
const colourToggle = new ColourToggle( document.body, { onChange: ( trueColour ) => {

	cloud.trueColour = trueColour;

} } );

// classic-cm payloads take several ms each: a worker decodes them, so the render loop never waits.
const contextWorker = startContextWorker();
let decoder = new StreamDecoder( { contextWorker } );
// Frames decode one after another (the classic-cm model needs them in order): each waits here.
let decoding = Promise.resolve();
let pendingFrame = null;
let pendingDecodeMs = 0;
let lastResyncTime = - Infinity;
// Assigned below; declared first because a malformed ?ws= URL reports its state from the constructor.
let connection = null;

function startContextWorker() {

	try {

		return new ContextWorker();

	} catch ( error ) {

		console.warn( 'depthcam: no module workers here; classic-cm decodes on the page:', error );
		return null;

	}

}

function onMessage( data ) {

	status.framesReceived ++;
	viewerStatus.frameArrived();
	hud.countMessage( data.byteLength );
	const streamDecoder = decoder;
	decoding = decoding.then( () => decodeFrame( streamDecoder, data ) );

}

async function decodeFrame( streamDecoder, data ) {

	if ( streamDecoder !== decoder ) return; // its connection is gone: a new stream has begun
	const start = performance.now();
	try {

		const frame = await streamDecoder.decodeAsync( data );
		if ( frame.colour !== null ) frame.picture = await decodePicture( frame.colour );
		if ( streamDecoder !== decoder ) {

			if ( frame.picture ) frame.picture.close();
			return;

		}

		if ( pendingFrame !== null && pendingFrame.picture ) pendingFrame.picture.close(); // never shown
		pendingFrame = frame;
		pendingDecodeMs = performance.now() - start;
		status.framesDecoded ++;
		status.lastSequence = frame.header.sequence;
		if ( contextWorker !== null ) status.workerDecodes = contextWorker.decoded;

	} catch ( error ) {

		if ( streamDecoder !== decoder ) return;

		status.lastError = error.name;
		hud.showError( error );
		if ( ! RESYNC_ERRORS.has( error.name ) ) {

			console.warn( 'depthcam: frame rejected:', error );
			return;

		}

		const now = performance.now();
		if ( now - lastResyncTime >= RESYNC_INTERVAL_MS && connection !== null && connection.requestResync() ) {

			lastResyncTime = now;
			status.resyncRequests ++;

		}

	}

}

// A frame's colour picture as an ImageBitmap, by the browser's own decoder; null if it fails (that
// frame is then coloured by depth: FORMAT.md leaves the picture's pixels to the viewer).
async function decodePicture( colour ) {

	const start = performance.now();
	try {

		const picture = await createImageBitmap( new Blob( [ colour.bytes ], { type: colour.mimeType } ) );
		status.colourDecodeMs = performance.now() - start;
		return picture;

	} catch ( error ) {

		if ( status.colourErrors ++ === 0 ) console.warn( 'depthcam: a colour picture did not decode:', error );
		return null;

	}

}

function onStateChange( state, stateConnection ) {

	status.connectionState = state;
	viewerStatus.connectionChanged( state, stateConnection );
	hud.statusChanged();
	// A new connection is a new stream: the server opens it with an absolute frame.
	if ( state === 'open' ) {

		decoder = new StreamDecoder( { contextWorker } );
		if ( ! followCamera.userMoved ) fitPending = true;

	}

}

/** Place the camera so the whole cloud on screen fills the view (key R, "reset view"). */
function fitView() {

	const { positions, count } = cloud.getPoints();
	const fit = viewFitter.fit( positions, count, camera );
	if ( fit === null ) return;
	followCamera.frame( fit.position, fit.target, fit.slack );
	cloudDepth = fit.farthest - fit.nearest;
	status.viewFits ++;

}

function updateFog() {

	if ( scene.fog === null ) return;
	const distance = camera.position.distanceTo( cloud.centre );
	scene.fog.near = distance;
	scene.fog.far = distance + Math.max( FOG_DEPTHS * cloudDepth, distance );

}

/** Download the frame on screen as PLY and PNG (key S, "save"). */
function save() {

	if ( status.sequenceShown === null ) return;
	saveSnapshot( {
		cloud,
		canvas,
		sequence: status.sequenceShown,
		description: `depthcam ${status.profile} frame #${status.sequenceShown}, ${status.frameWidth} x ${status.frameHeight}, from ${params.wsUrl}`,
	} ).then( () => {

		status.snapshots ++;

	} );

}

connection = new Connection( params.wsUrl, { onMessage, onStateChange } );

const motionPoint = new Vector3();

function showPendingFrame() {

	const { header, codes, units, intrinsics, colour, picture } = pendingFrame;
	pendingFrame = null;
	const start = performance.now();
	// A new size or profile (a source restarted behind a relay) makes the cloud reallocate itself.
	cloud.update( header, codes, units, { intrinsics, colour: picture || null } );
	colourToggle.setAvailable( colour !== null );
	status.colourShown = cloud.showingColour;
	status.intrinsics = intrinsics;
	status.frameAgeMs = Date.now() - header.capture_time_us / 1000;
	if ( cloud.showingColour ) status.colourFrames ++;
	status.updateMs = performance.now() - start;
	if ( fitPending && cloud.visibleCount > 0 ) {

		fitPending = false;
		fitView();

	}

	if ( header.motion_weight > 0 ) {

		cloud.unproject( header.motion_u / 65535, header.motion_v / 65535, header.motion_depth_mm, motionPoint );
		followCamera.setMotion( motionPoint, header.motion_weight / 65535 );

	}

	status.points = cloud.visibleCount;
	status.profile = profileName( header.profile );
	status.frameWidth = header.width;
	status.frameHeight = header.height;
	status.sequenceShown = header.sequence;
	status.decodeMs = pendingDecodeMs + performance.now() - start;
	hud.frameShown( header, status.decodeMs, cloud.visibleCount, status.profile );

}

let lastTime = null;
renderer.setAnimationLoop( ( time ) => {

	const step = lastTime === null ? 0 : Math.min( ( time - lastTime ) / 1000, MAX_FRAME_STEP );
	lastTime = time;
	const newFrame = pendingFrame !== null;
	if ( newFrame ) showPendingFrame();
	viewerStatus.update();
	canvas.classList.toggle( 'depthcam-stale', viewerStatus.stale && status.sequenceShown !== null );
	followCamera.update( step );
	updateFog();
	hud.begin();
	const renderStart = performance.now();
	renderer.render( scene, camera );
	if ( newFrame ) status.renderMs = performance.now() - renderStart;
	hud.end();
	if ( newFrame ) status.framesDrawn ++;

} );

window.addEventListener( 'resize', () => {

	camera.aspect = window.innerWidth / window.innerHeight;
	camera.updateProjectionMatrix();
	renderer.setSize( window.innerWidth, window.innerHeight );
	// A turned phone: frame the cloud for the new shape, unless the user chose a view.
	if ( ! followCamera.userMoved ) fitView();

} );

const statusGetters = Object.fromEntries( Object.keys( status ).map( ( key ) => [ key, () => status[ key ] ] ) );
// Whether the motion cue steers the camera now (not the user), and where the camera looks, metres
// (the sensor at the origin, looking down −Z): read when asked, not copied every frame.
statusGetters.following = () => followCamera.following;
statusGetters.cameraTarget = () => followCamera.controls.target.toArray();
statusGetters.cameraPosition = () => camera.position.toArray();
// What the status line says: ViewerStatus's state ('connecting', 'waiting', 'live', 'stalled',
// 'reconnecting', 'no-webgl', 'closed') and its words.
statusGetters.viewerState = () => viewerStatus.state;
statusGetters.statusText = () => viewerStatus.label();
window.depthcam = Object.freeze( Object.defineProperties( {}, Object.fromEntries(
	Object.entries( statusGetters ).map( ( [ key, get ] ) => [ key, { get, enumerable: true } ] )
) ) );

document.getElementById( 'boot' ).remove();
