// pointCloudShader: the GLSL that turns a depth texture and a grid of pixel indices into a point cloud.
//
// The vertex shader reads its pixel's sample from the depth texture (an integer texture holding the
// decoder's values as they are), turns it into metres (through a lookup texture for raw disparity
// and classic codes, by 1/1000 for millimetres), unprojects it through the intrinsics, and colours
// it by depth, or by the frame's colour picture (sampled at the pixel's centre; the picture is
// registered to the depth grid, FORMAT.md *Attachments*). A pixel with no reading (0 mm after the lookup) is moved outside the clip volume with
// a zero size, so nothing is rasterized for it. Fog and colour space follow three.js's own chunks.

const vertexShader = /* glsl */ `
precision highp usampler2D;

uniform usampler2D depthMap; // the frame's samples, one texel a pixel, top row first
uniform sampler2D metresByValue; // value → metres, when useLookup; 0 = no reading
uniform bool useLookup;
uniform float metresPerValue; // when not useLookup: metres = value · metresPerValue, 0 = no reading
uniform vec2 focal; // fx, fy at the frame's size, px
uniform vec2 principal; // cx, cy at the frame's size, px
uniform float size; // point size per metre of depth, metres (a pixel's footprint)
uniform float scale; // half the drawing buffer's height, px
uniform float minSize; // smallest point drawn, drawing-buffer px
uniform float colourNear; // m
uniform float colourFar; // m
uniform vec3 rampColours[ 4 ];
uniform float rampStops[ 4 ];
uniform sampler2D colourMap; // the frame's colour picture, top row first, when useColourMap
uniform bool useColourMap;

varying vec3 vColour;

#include <fog_pars_vertex>

vec3 ramp( float t ) {

	vec3 colour = rampColours[ 0 ];
	for ( int i = 1; i < 4; i ++ ) {

		float share = clamp( ( t - rampStops[ i - 1 ] ) / ( rampStops[ i ] - rampStops[ i - 1 ] ), 0.0, 1.0 );
		colour = t > rampStops[ i - 1 ] ? mix( rampColours[ i - 1 ], rampColours[ i ], share ) : colour;

	}

	return colour;

}

void main() {

	ivec2 pixel = ivec2( position.xy );
	uint value = texelFetch( depthMap, pixel, 0 ).r;
	float z = useLookup ? texelFetch( metresByValue, ivec2( int( value ), 0 ), 0 ).r : float( value ) * metresPerValue;
	if ( z <= 0.0 ) {

		gl_Position = vec4( 0.0, 0.0, 2.0, 1.0 ); // beyond the far plane: clipped
		gl_PointSize = 0.0;
		vColour = vec3( 0.0 );
		return;

	}

	vec3 local = vec3( ( position.xy - principal ) * z / focal * vec2( 1.0, - 1.0 ), - z );
	vec4 mvPosition = modelViewMatrix * vec4( local, 1.0 );
	gl_Position = projectionMatrix * mvPosition;
	// A point of world size size·z at distance d covers size·z·scale/d pixels: the sensor's
	// footprint of one frame pixel, whatever the viewing distance.
	gl_PointSize = max( size * z * scale / max( - mvPosition.z, 1e-3 ), minSize );
	if ( useColourMap ) {

		vec2 frameSize = vec2( textureSize( depthMap, 0 ) );
		vColour = textureLod( colourMap, ( position.xy + 0.5 ) / frameSize, 0.0 ).rgb;

	} else {

		vColour = ramp( clamp( ( z - colourNear ) / ( colourFar - colourNear ), 0.0, 1.0 ) );

	}

	#include <fog_vertex>

}
`;

const fragmentShader = /* glsl */ `
varying vec3 vColour;

#include <fog_pars_fragment>

void main() {

	gl_FragColor = vec4( vColour, 1.0 );

	#include <colorspace_fragment>
	#include <fog_fragment>

}
`;

export { fragmentShader, vertexShader };
