// PlyExporter: points (and, when given, their colours) as the bytes of a binary PLY file.
//
// Binary little-endian PLY (the format of Greg Turk's 1994 description, which MeshLab, CloudCompare,
// Open3D and Blender read): a text header naming a `vertex` element with float x, y, z (metres)
// and, when colours are given, uchar red, green, blue; then one packed record per point.

const FLOAT_BYTES = 4;
const COLOUR_BYTES = 3;

/**
 * The PLY file of `count` points.
 * @param {Float32Array} positions x, y, z of each point, metres.
 * @param {number} count how many points (positions holds at least 3 · count values).
 * @param {object} [options]
 * @param {Uint8Array|null} [options.colours] red, green, blue (0…255, sRGB) of each point, or null.
 * @param {string[]} [options.comments] header comment lines (no line breaks).
 * @returns {ArrayBuffer}
 */
function exportPly( positions, count, { colours = null, comments = [] } = {} ) {

	const lines = [ 'ply', 'format binary_little_endian 1.0' ];
	for ( const comment of comments ) lines.push( `comment ${comment.replace( /[\r\n]+/g, ' ' )}` );
	lines.push( `element vertex ${count}`, 'property float x', 'property float y', 'property float z' );
	if ( colours !== null ) lines.push( 'property uchar red', 'property uchar green', 'property uchar blue' );
	lines.push( 'end_header' );
	const header = new TextEncoder().encode( lines.join( '\n' ) + '\n' );

	const recordBytes = 3 * FLOAT_BYTES + ( colours === null ? 0 : COLOUR_BYTES );
	const bytes = new Uint8Array( header.length + count * recordBytes );
	bytes.set( header );
	const view = new DataView( bytes.buffer );
	for ( let i = 0, offset = header.length; i < count; i ++, offset += recordBytes ) {

		view.setFloat32( offset, positions[ i * 3 ], true );
		view.setFloat32( offset + FLOAT_BYTES, positions[ i * 3 + 1 ], true );
		view.setFloat32( offset + 2 * FLOAT_BYTES, positions[ i * 3 + 2 ], true );
		if ( colours !== null ) bytes.set( colours.subarray( i * 3, i * 3 + 3 ), offset + 3 * FLOAT_BYTES );

	}

	return bytes.buffer;

}

export { exportPly };
