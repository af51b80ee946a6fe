// Drives Debian's firefox-esr for the Python browser tests (tests/client/firefox.py): puppeteer-core
// over WebDriver BiDi, one JSON request a line on stdin, one JSON answer a line on stdout.
// Firefox must run headful (headless Firefox has no WebGL here), so run this under `xvfb-run -a`
// with LIBGL_ALWAYS_SOFTWARE=1 (Mesa llvmpipe). Nothing is downloaded: the browser is the system's.
//
// Requests: {id, op: "newPage", width, height} → {page}; {id, op: "goto", page, url};
// {id, op: "evaluate", page, expression, arg?} → {value} (a function source is called with arg);
// {id, op: "waitForFunction", page, expression, timeoutMs}; {id, op: "closePage", page}.
// Every answer carries `pageErrors`: uncaught errors of the pages since the last answer.

import { createInterface } from 'node:readline';

import puppeteer from 'puppeteer-core';

const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

const browser = await puppeteer.launch( {
	browser: 'firefox',
	executablePath: FIREFOX,
	headless: false,
	protocol: 'webDriverBiDi',
	extraPrefsFirefox: {
		// llvmpipe is a software GL that Firefox would otherwise refuse for WebGL.
		'webgl.force-enabled': true,
		'webgl.disabled': false,
		// performance.now() to the microsecond, not rounded to the millisecond: bench/ times decodes.
		'privacy.reduceTimerPrecision': false,
	},
} );

const pages = new Map();
let nextPage = 1;
let pageErrors = [];
// Firefox reports a refused WebSocket connection as a script error of the page; Chromium only logs it
// to the console, and the page handles it (it reconnects). It is not an uncaught exception.
const NETWORK_NOTICE = /^Firefox can\u2019t establish a connection to the server at /;

function isFunctionSource( expression ) {

	return /^\s*(async\s+)?(function\b|\([^)]*\)\s*=>|[\w$]+\s*=>)/.test( expression );

}

const operations = {

	async newPage( { width, height } ) {

		const page = await browser.newPage();
		await page.setViewport( { width, height } );
		page.on( 'pageerror', ( error ) => {

			const message = String( error && error.message || error );
			if ( ! NETWORK_NOTICE.test( message ) ) pageErrors.push( message );

		} );
		const id = nextPage ++;
		pages.set( id, page );
		return { page: id };

	},

	async goto( { page, url } ) {

		await pages.get( page ).goto( url, { waitUntil: 'load' } );
		return {};

	},

	async evaluate( { page, expression, arg } ) {

		const source = isFunctionSource( expression ) ? `(${expression})(${JSON.stringify( arg ?? null )})` : expression;
		return { value: await pages.get( page ).evaluate( source ) ?? null };

	},

	async waitForFunction( { page, expression, timeoutMs } ) {

		await pages.get( page ).waitForFunction( expression, { timeout: timeoutMs, polling: 100 } );
		return {};

	},

	async closePage( { page } ) {

		await pages.get( page ).close();
		pages.delete( page );
		return {};

	},

};

process.stdout.write( JSON.stringify( { ready: true, version: await browser.version() } ) + '\n' );

// One request at a time, in order: the Python side waits for each answer.
for await ( const line of createInterface( { input: process.stdin } ) ) {

	const request = JSON.parse( line );
	let answer;
	try {

		answer = { id: request.id, ...( await operations[ request.op ]( request ) ) };

	} catch ( error ) {

		answer = { id: request.id, error: `${error.name}: ${error.message}` };

	}

	answer.pageErrors = pageErrors;
	pageErrors = [];
	process.stdout.write( JSON.stringify( answer ) + '\n' );

}

await browser.close();
