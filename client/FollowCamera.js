// FollowCamera: orbit controls whose target drifts, smoothly, towards where the scene moves.
//
// `frame()` sets the home view (ViewFitter's: the whole cloud in the viewport). The header's motion
// cue (FORMAT.md: centroid and depth of the pixels that changed, and their share) arrives as a 3D
// point and a weight. The view pans, keeping the user's orbit offset, towards a goal between home
// and that point, leaning further the more moved but never further from home than `frame()`'s
// reach (ViewFitter's slack: what the view can pan and still show all of the cloud); with nothing
// moving it eases back home. Dragging,
// touching or zooming takes over: following waits until the user has let go for `userPauseTime`.
// The 2012 client steered by quadrant means; the changed-pixel centroid says where, not only which way.

import { Vector3 } from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

const _goal = new Vector3();
const _step = new Vector3();

class FollowCamera {

	/**
	 * @param {PerspectiveCamera} camera the camera to steer.
	 * @param {HTMLElement} domElement where the user's mouse and touch input arrives (the canvas).
	 */
	constructor( camera, domElement ) {

		this.camera = camera;
		this.controls = new OrbitControls( camera, domElement );
		this.controls.enableDamping = true;

		/** How fast the view eases towards a moving spot, 1/s (63 % of the way in 1/rate s). Default 1.5. */
		this.followRate = 1.5;
		/** How fast it eases back to the cloud centre when nothing moves, 1/s. Default 0.4. */
		this.returnRate = 0.4;
		/** How far from home towards the moving spot the goal lies at full pull, 0…1. Default 0.7. */
		this.followShare = 0.7;
		/** Share of the frame's pixels that must change for the full pull, 0…1. Default 0.03. */
		this.fullPullWeight = 0.03;
		/** How long a motion cue keeps pulling after the last one, s (the cue flickers). Default 1. */
		this.motionHoldTime = 1;
		/** How long following waits after the user lets go of the view, s. Default 4. */
		this.userPauseTime = 4;
		/** True once the user moved the view since the last `frame()`. Read-only. */
		this.userMoved = false;

		this._time = 0;
		this._started = false;
		this._home = new Vector3();
		this._reach = 0; // how far from home following may take the view, metres
		this._motionPoint = new Vector3();
		this._motionWeight = 0;
		this._lastMotionTime = - Infinity;
		this._userActive = false;
		this._pausedUntil = 0;

		this._onStart = () => {

			this._userActive = true;
			this.userMoved = true;

		};

		this._onEnd = () => {

			this._userActive = false;
			this._pausedUntil = this._time + this.userPauseTime;

		};

		this.controls.addEventListener( 'start', this._onStart );
		this.controls.addEventListener( 'end', this._onEnd );

	}

	/** True while the motion cue, not the user's input, steers the view. */
	get following() {

		return this._started && ! this._userActive && this._time >= this._pausedUntil;

	}

	/** Place the camera at `position` looking at `target` (world metres): the home view, which
	 * following returns to and strays at most `reach` metres from; following resumes at once. */
	frame( position, target, reach ) {

		this._started = true;
		this.userMoved = false;
		this._pausedUntil = this._time;
		this._home.copy( target );
		this._reach = reach;
		this.controls.target.copy( target );
		this.camera.position.copy( position );
		this.camera.lookAt( target );
		this.controls.update();

	}

	/**
	 * The latest motion cue: where the scene changed (world metres) and the share of pixels that
	 * changed (0…1); a weight of 0 means nothing moved.
	 */
	setMotion( point, weight ) {

		if ( weight <= 0 ) return;
		this._motionPoint.copy( point );
		this._motionWeight = weight;
		this._lastMotionTime = this._time;

	}

	/** Advance by `deltaSeconds`; call once per rendered frame. */
	update( deltaSeconds ) {

		this._time += deltaSeconds;
		if ( this.following ) {

			let rate = this.returnRate;
			_goal.copy( this._home );
			if ( this._time - this._lastMotionTime < this.motionHoldTime ) {

				const pull = Math.min( this._motionWeight / this.fullPullWeight, 1 );
				_goal.lerp( this._motionPoint, this.followShare * pull );
				_step.subVectors( _goal, this._home ).clampLength( 0, this._reach );
				_goal.addVectors( this._home, _step );
				rate = this.followRate;

			}

			// Exponential easing, the same whatever the frame rate.
			_step.subVectors( _goal, this.controls.target ).multiplyScalar( 1 - Math.exp( - rate * deltaSeconds ) );
			this.controls.target.add( _step );
			this.camera.position.add( _step );

		}

		this.controls.update( deltaSeconds );

	}

	/** Remove the controls' listeners (on the canvas and document) and this class's own. */
	dispose() {

		this.controls.removeEventListener( 'start', this._onStart );
		this.controls.removeEventListener( 'end', this._onEnd );
		this.controls.dispose();

	}

}

export { FollowCamera };
