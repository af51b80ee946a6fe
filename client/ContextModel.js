// ContextModel: the decoder of classic-cm's coded bits, keyframes and deltas (FORMAT.md,
// *classic-cm (id 5)*). It follows codec/_contextmodel.c integer for integer: eight hashed adaptive
// context models, a mixer chosen by bin and neighbourhood, a 32-bit binary arithmetic decoder.
// State lives from one keyframe to the next, so the decoder must see every frame in between.

const NO_READING = 255;
const MAX_CODE = 254;
const SWITCH_RESIDUAL = 6; // |neighbours' change| from which kind 2 predicts spatially
const SENTINEL = 99; // "no residual known here"
const MODELS = 8;
const TABLE_BITS = 16;
const TABLE_SIZE = 1 << TABLE_BITS;
const COUNT_LIMIT = 250;
const INPUTS = MODELS + 1;
const MIXER_SETS = 32 * 27; // bin kind × (neighbours' change, 9) × predictor kind (3)
const WEIGHT_INIT = 13107; // 0.2 in 16.16
const WEIGHT_LIMIT = 1 << 23;
const MIXER_RATE = 2;
const BIAS_INPUT = 256;
const UNARY_BINS = 20;
const ESCAPE_BITS = 8;

const SQUASH_POINTS = [
	1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047,
	2549, 2994, 3348, 3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094,
];

function squash( d ) {

	if ( d > 2047 ) return 4095;
	if ( d < - 2047 ) return 1;
	const w = d & 127;
	const i = ( d >> 7 ) + 16;
	return ( SQUASH_POINTS[ i ] * ( 128 - w ) + SQUASH_POINTS[ i + 1 ] * w + 64 ) >> 7;

}

const STRETCH = new Int16Array( 4096 );
{

	let next = 0;
	for ( let x = - 2047; x <= 2047; x ++ ) {

		const v = squash( x );
		for ( let j = next; j <= v; j ++ ) STRETCH[ j ] = x;
		next = v + 1;

	}

	for ( let j = next; j < 4096; j ++ ) STRETCH[ j ] = 2047;

}

const RECIPROCAL = new Int32Array( COUNT_LIMIT + 1 );
for ( let n = 0; n <= COUNT_LIMIT; n ++ ) RECIPROCAL[ n ] = Math.floor( 32768 / ( 2 * n + 3 ) );

function clampCode( x, k ) {

	if ( x === SENTINEL ) return 2 * k + 1;
	return ( x < - k ? - k : ( x > k ? k : x ) ) + k;

}

// c clamped between a and b: LOCO-I's median edge detector when c = a + b - corner.
function med3( a, b, c ) {

	const lo = a < b ? a : b, hi = a < b ? b : a;
	return c < lo ? lo : ( c > hi ? hi : c );

}

function volatilityClass( v ) {

	return v === 0 ? 0 : ( v < 8 ? 1 : ( v < 16 ? 2 : ( v < 32 ? 3 : 4 ) ) );

}

function isReading( v ) {

	return v >= 0 && v !== NO_READING;

}

// hash_fields in _contextmodel.c: the model's seed, then each field, 32-bit unsigned throughout.
// Int32 arithmetic throughout (the same bits as C's uint32_t, and no heap numbers in V8).
function mixField( h, field ) {

	h = Math.imul( h ^ field, 0x9E3779B1 );
	return h ^ ( h >>> 15 );

}

function hashFields( model, a, b, c, d, e, count ) {

	let h = Math.imul( model + 1, 0x3C6EF372 );
	h = mixField( h, a );
	h = mixField( h, b );
	h = mixField( h, c );
	if ( count > 3 ) h = mixField( h, d );
	if ( count > 4 ) h = mixField( h, e );
	return h;

}

// The 32-bit carry-less binary arithmetic decoder of FORMAT.md (bytes past the end read as 0).
class BinaryDecoder {

	constructor( bytes ) {

		this.bytes = bytes;
		this.position = 0;
		this.x1 = 0;
		this.x2 = 0xFFFFFFFF;
		this.x = 0;
		for ( let k = 0; k < 4; k ++ ) this.x = ( ( this.x << 8 ) | this._nextByte() ) >>> 0;

	}

	/** The next bit, 1 with probability p / 4096. */
	bit( p ) {

		const xmid = this.x1 + ( ( this.x2 - this.x1 ) >>> 12 ) * p;
		const bit = this.x <= xmid ? 1 : 0;
		if ( bit ) this.x2 = xmid; else this.x1 = xmid + 1;
		while ( ( ( this.x1 ^ this.x2 ) & 0xFF000000 ) === 0 ) {

			this.x = ( ( this.x << 8 ) | this._nextByte() ) >>> 0;
			this.x1 = ( this.x1 << 8 ) >>> 0;
			this.x2 = ( ( this.x2 << 8 ) | 255 ) >>> 0;

		}

		return bit;

	}

	_nextByte() {

		return this.position < this.bytes.length ? this.bytes[ this.position ++ ] : 0;

	}

}

export class ContextModel {

	constructor( width, height ) {

		this.width = width;
		this.height = height;
		const n = width * height;
		// A slot's probability (16 bits) and count (8 bits) in one word: one memory access per slot.
		this.slots = new Int32Array( MODELS * TABLE_SIZE );
		this.weight = new Int32Array( MIXER_SETS * INPUTS );
		this.history = [ new Uint8Array( n ), new Uint8Array( n ), new Uint8Array( n ) ]; // t-1, t-2, t-3
		this.residual = new Int16Array( n );
		this.volatility = new Uint8Array( n ); // how often each pixel changed lately
		// Per-bit scratch, reused.
		this._base = new Int32Array( MODELS );
		this._slot = new Uint32Array( MODELS );
		this._input = new Int32Array( INPUTS );

	}

	// The codes of a keyframe: starts a group of pictures, everything forgotten and no readings
	// anywhere in the history; afterwards the keyframe is all three frames of it.
	decodeKeyframe( bytes ) {

		this.slots.fill( 32768 << 8 );
		this.weight.fill( WEIGHT_INIT );
		this.volatility.fill( 0 );
		for ( const frame of this.history ) frame.fill( NO_READING );
		const codes = this.decode( bytes );
		for ( const frame of this.history ) frame.set( codes );
		return codes;

	}

	// The codes of one delta frame from its coded bytes; advances the model. Throws a plain Error
	// when the bytes decode to codes out of range (the caller names it CorruptPayloadError).
	decode( bytes ) {

		const { width: W, height: H } = this;
		const cur = new Uint8Array( W * H );
		const [ prev, pp, ppp ] = this.history;
		const r = this.residual;
		const volatility = this.volatility;
		const base = this._base;
		const coder = new BinaryDecoder( bytes );

		const slots = this.slots, weight = this.weight;
		const slot = this._slot, input = this._input;
		input[ MODELS ] = BIAS_INPUT;

		for ( let y = 0; y < H; y ++ ) {

			for ( let xi = 0; xi < W; xi ++ ) {

				const i = y * W + xi;
				const P = prev[ i ];
				const rW = xi > 0 ? r[ i - 1 ] : SENTINEL;
				const rN = y > 0 ? r[ i - W ] : SENTINEL;
				const rNW = ( xi > 0 && y > 0 ) ? r[ i - W - 1 ] : SENTINEL;
				const rNE = ( y > 0 && xi < W - 1 ) ? r[ i - W + 1 ] : SENTINEL;
				const Wv = xi > 0 ? cur[ i - 1 ] : - 1;
				const Nv = y > 0 ? cur[ i - W ] : - 1;
				const NWv = ( xi > 0 && y > 0 ) ? cur[ i - W - 1 ] : - 1;
				const NEv = ( y > 0 && xi < W - 1 ) ? cur[ i - W + 1 ] : - 1;
				const rp = ( P !== NO_READING && pp[ i ] !== NO_READING ) ? P - pp[ i ] : SENTINEL;
				const rpp = ( pp[ i ] !== NO_READING && ppp[ i ] !== NO_READING ) ? pp[ i ] - ppp[ i ] : SENTINEL;
				const pE = xi < W - 1 ? prev[ i + 1 ] : - 1;
				const pS = y < H - 1 ? prev[ i + W ] : - 1;
				const pW = xi > 0 ? prev[ i - 1 ] : - 1;
				const pN = y > 0 ? prev[ i - W ] : - 1;
				const noneCount = ( Wv === NO_READING ) + ( Nv === NO_READING ) + ( NWv === NO_READING ) + ( NEv === NO_READING );
				const prevNone = ( pW === NO_READING ) + ( pN === NO_READING ) + ( pE === NO_READING ) + ( pS === NO_READING );
				let kind, pred, gx, gy;
				if ( P !== NO_READING ) {

					kind = 0;
					pred = P;
					gx = ( isReading( pE ) ? pE : P ) - ( isReading( pW ) ? pW : P );
					gy = ( isReading( pS ) ? pS : P ) - ( isReading( pN ) ? pN : P );

				} else {

					kind = 1;
					pred = isReading( Wv ) && isReading( Nv ) && isReading( NWv ) ? med3( Wv, Nv, Wv + Nv - NWv )
						: ( isReading( Wv ) ? Wv : ( isReading( Nv ) ? Nv : 128 ) );
					gx = 0;
					gy = 0;

				}

				const gp = Math.abs( gx ) + Math.abs( gy );
				let mr;
				if ( rW !== SENTINEL && rN !== SENTINEL && rNW !== SENTINEL ) mr = med3( rW, rN, rW + rN - rNW );
				else if ( rW !== SENTINEL ) mr = rW;
				else if ( rN !== SENTINEL ) mr = rN;
				else mr = SENTINEL;
				if ( kind === 0 && mr !== SENTINEL && Math.abs( mr ) >= SWITCH_RESIDUAL ) {

					const q = isReading( Wv ) && isReading( Nv ) && isReading( NWv ) ? med3( Wv, Nv, Wv + Nv - NWv ) : P + mr;
					pred = q < 0 ? 0 : ( q > MAX_CODE ? MAX_CODE : q );
					kind = 2;

				}

				const v0 = volatility[ i ];
				let vMax = v0;
				if ( xi > 0 && volatility[ i - 1 ] > vMax ) vMax = volatility[ i - 1 ];
				if ( xi < W - 1 && volatility[ i + 1 ] > vMax ) vMax = volatility[ i + 1 ];
				if ( y > 0 && volatility[ i - W ] > vMax ) vMax = volatility[ i - W ];
				if ( y < H - 1 && volatility[ i + W ] > vMax ) vMax = volatility[ i + W ];

				const dW = isReading( Wv ) ? Wv - pred : SENTINEL;
				const dN = isReading( Nv ) ? Nv - pred : SENTINEL;
				const noneKind = Math.min( noneCount * 2 + kind, 7 );
				const sgx = isReading( Wv ) && isReading( NWv ) ? Wv - NWv : SENTINEL;
				const sgy = isReading( Nv ) && isReading( NWv ) ? Nv - NWv : SENTINEL;
				base[ 0 ] = hashFields( 0, clampCode( rNW, 1 ), clampCode( rNE, 1 ), clampCode( rp, 1 ), noneKind, prevNone, 5 );
				base[ 1 ] = hashFields( 1, clampCode( rW, 4 ), clampCode( rN, 4 ), clampCode( rNW, 4 ), clampCode( rNE, 4 ), clampCode( rp, 4 ), 5 );
				base[ 2 ] = hashFields( 2, Math.min( gp, 63 ), clampCode( rp, 2 ), kind, 0, 0, 3 );
				base[ 3 ] = hashFields( 3, clampCode( gx, 4 ), clampCode( gy, 4 ), clampCode( mr, 3 ), kind, 0, 4 );
				base[ 4 ] = hashFields( 4, clampCode( dW, 4 ), clampCode( dN, 4 ), prevNone, 0, 0, 3 );
				base[ 5 ] = hashFields( 5, clampCode( rp, 2 ), clampCode( rpp, 2 ), clampCode( mr, 3 ), 0, 0, 3 );
				base[ 6 ] = hashFields( 6, volatilityClass( v0 ), volatilityClass( vMax ), clampCode( rW, 1 ), clampCode( rN, 1 ), 0, 4 );
				base[ 7 ] = hashFields( 7, clampCode( sgx, 3 ), clampCode( sgy, 3 ), kind, clampCode( dW, 2 ), clampCode( dN, 2 ), 5 );

				// The pixel's bits, one modelled bit per turn (no calls: this loop is the decoder's
				// hot path): stage 0 "no reading?", 1 "changed?", 2 "up?", 3.. unary magnitude.
				const mixerBase = clampCode( mr, 3 ) * 3 + kind;
				let v = pred, stage = 0, positive = 0;
				for ( ;; ) {

					const bin = stage < 3 ? stage : 3 + ( stage - 3 < 12 ? stage - 3 : 12 );
					const bb = bin * 2 + ( stage < 3 ? 0 : positive );
					const set = ( bb * 27 + mixerBase ) * INPUTS;
					let dot = BIAS_INPUT * weight[ set + MODELS ];
					for ( let m = 0; m < MODELS; m ++ ) {

						let h = Math.imul( ( base[ m ] + bb ) | 0, 0x85EBCA6B );
						h = ( m * TABLE_SIZE ) + ( ( h ^ ( h >>> 13 ) ) >>> ( 32 - TABLE_BITS ) );
						slot[ m ] = h;
						const st = STRETCH[ slots[ h ] >>> 12 ];
						input[ m ] = st;
						dot += weight[ set + m ] * st;

					}

					let p = squash( Math.floor( dot / 65536 ) );
					p = p < 1 ? 1 : ( p > 4095 ? 4095 : p );
					const bit = coder.bit( p );

					const err = ( ( bit << 12 ) - p ) * MIXER_RATE;
					for ( let m = 0; m < INPUTS; m ++ ) {

						const w = weight[ set + m ] + ( ( input[ m ] * err ) >> 12 );
						weight[ set + m ] = w > WEIGHT_LIMIT ? WEIGHT_LIMIT : ( w < - WEIGHT_LIMIT ? - WEIGHT_LIMIT : w );

					}

					for ( let m = 0; m < MODELS; m ++ ) {

						const h = slot[ m ];
						const state = slots[ h ];
						const n = state & 255;
						const p16 = state >>> 8;
						slots[ h ] = ( ( p16 + ( ( ( ( bit << 16 ) - bit - p16 ) * RECIPROCAL[ n ] ) >> 14 ) ) << 8 ) | ( n < COUNT_LIMIT ? n + 1 : n );

					}

					if ( stage === 0 ) {

						if ( bit ) {

							v = NO_READING;
							break;

						}

					} else if ( stage === 1 ) {

						if ( ! bit ) break;

					} else if ( stage === 2 ) {

						positive = bit;

					} else if ( ! bit || stage - 3 === UNARY_BINS - 1 ) {

						let magnitude = stage - 3 + bit;
						if ( bit ) {

							// UNARY_BINS ones: the rest of the magnitude follows in ESCAPE_BITS even bits.
							let rest = 0;
							for ( let b = ESCAPE_BITS - 1; b >= 0; b -- ) {

								rest |= coder.bit( 2048 ) << b;

							}

							magnitude = UNARY_BINS + rest;

						}

						v = pred + ( positive ? magnitude + 1 : - ( magnitude + 1 ) );
						if ( v < 0 || v >= NO_READING ) {

							throw new Error( `payload decodes to code ${v} at pixel ${i}` );

						}

						break;

					}

					stage ++;

				}

				cur[ i ] = v;
				r[ i ] = ( v !== NO_READING && P !== NO_READING ) ? v - P : SENTINEL;

			}

		}

		for ( let i = 0; i < W * H; i ++ ) {

			const v = volatility[ i ];
			volatility[ i ] = v - ( v >> 3 ) + ( cur[ i ] !== prev[ i ] ? 8 : 0 );

		}

		// t-3 ← t-2 ← t-1 ← this frame.
		ppp.set( pp );
		pp.set( prev );
		prev.set( cur );
		return cur;

	}

}
