// Toolbar: the viewer's buttons and their keys: "reset view" (R) and "save" (S).

const STYLE = `
.depthcam-toolbar { position: fixed; left: 12px; top: 12px; z-index: 10; display: flex; gap: 8px; }
.depthcam-toolbar button { font: 13px/1 system-ui, sans-serif; color: #d8dee9; background: #1d2230cc;
	border: 1px solid #3b4252; border-radius: 6px; padding: 8px 10px; cursor: pointer; }
.depthcam-toolbar button:hover { background: #2e3440; }
.depthcam-toolbar kbd { font: inherit; opacity: 0.6; margin-left: 4px; }
`;

class Toolbar {

	/**
	 * @param {HTMLElement} container where the buttons go (the page body).
	 * @param {object} actions
	 * @param {function()} actions.resetView fit the whole cloud in the view again.
	 * @param {function()} actions.save save the frame on screen.
	 */
	constructor( container, { resetView, save } ) {

		this._style = document.createElement( 'style' );
		this._style.textContent = STYLE;
		this._root = document.createElement( 'div' );
		this._root.className = 'depthcam-toolbar';
		this._actions = { r: resetView, s: save };
		for ( const [ key, label, title ] of [
			[ 'r', 'reset view', 'See the whole cloud again, from the sensor\'s side (key R)' ],
			[ 's', 'save', 'Download this frame as a PLY point cloud (metres) and a PNG picture (key S)' ],
		] ) {

			const button = document.createElement( 'button' );
			button.type = 'button';
			button.name = label;
			button.title = title;
			button.append( label );
			const kbd = document.createElement( 'kbd' );
			kbd.textContent = key.toUpperCase();
			button.append( kbd );
			button.addEventListener( 'click', () => this._actions[ key ]() );
			this._root.append( button );

		}

		this._onKeyDown = ( event ) => {

			if ( event.ctrlKey || event.metaKey || event.altKey || event.repeat ) return;
			const action = this._actions[ event.key.toLowerCase() ];
			if ( action === undefined ) return;
			event.preventDefault();
			action();

		};

		container.append( this._style, this._root );
		window.addEventListener( 'keydown', this._onKeyDown );

	}

	/** Remove the buttons and the key listener. */
	dispose() {

		window.removeEventListener( 'keydown', this._onKeyDown );
		this._style.remove();
		this._root.remove();

	}

}

export { Toolbar };
