// ColourToggle: the overlay's switch between the stream's true colours and colours by depth.
//
// A button, shown only while the stream sends colour pictures (FORMAT.md, *Attachments*); a click,
// or the C key, flips it. It owns no drawing: `onChange( trueColour )` tells the page.

const STYLE = `
.depthcam-colour-toggle { position: fixed; right: 12px; top: 12px; z-index: 10;
	font: 13px/1.45 system-ui, sans-serif; color: #d8dee9; background: #1b1f2acc;
	border: 1px solid #3b4252; border-radius: 4px; padding: 3px 10px; cursor: pointer; }
.depthcam-colour-toggle[hidden] { display: none; }
`;

const LABELS = Object.freeze( { true: 'true colour', false: 'depth colour' } );
const TOGGLE_KEY = 'c';

class ColourToggle {

	/**
	 * @param {HTMLElement} container where the button goes (the page body).
	 * @param {object} [options]
	 * @param {function(boolean)} [options.onChange] called with the new state after each flip.
	 */
	constructor( container, { onChange = () => {} } = {} ) {

		/** Whether points take the picture's colours (true) or the depth ramp's. Default true. */
		this.trueColour = true;
		this.onChange = onChange;

		this._style = document.createElement( 'style' );
		this._style.textContent = STYLE;
		this.button = document.createElement( 'button' );
		this.button.className = 'depthcam-colour-toggle';
		this.button.type = 'button';
		this.button.title = 'switch between the camera\'s colours and colours by depth (C)';
		this.button.hidden = true;
		this._onClick = () => this.toggle();
		this._onKey = ( event ) => {

			if ( event.key === TOGGLE_KEY && ! event.repeat && ! this.button.hidden ) this.toggle();

		};
		this.button.addEventListener( 'click', this._onClick );
		window.addEventListener( 'keydown', this._onKey );
		container.append( this._style, this.button );
		this._refresh();

	}

	/** Show the button while the stream has colour (`available`), hide it otherwise. */
	setAvailable( available ) {

		this.button.hidden = ! available;

	}

	/** Flip between true colour and depth colour. */
	toggle() {

		this.trueColour = ! this.trueColour;
		this._refresh();
		this.onChange( this.trueColour );

	}

	dispose() {

		this.button.removeEventListener( 'click', this._onClick );
		window.removeEventListener( 'keydown', this._onKey );
		this.button.remove();
		this._style.remove();

	}

	_refresh() {

		this.button.textContent = LABELS[ this.trueColour ];
		this.button.setAttribute( 'aria-pressed', String( this.trueColour ) );

	}

}

export { ColourToggle };
