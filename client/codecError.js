// codecError: the Errors the decoders throw, named as in codec/FORMAT.md's rejection table (the
// Python classes of codec/errors.py) in `.name`, so a viewer and a test can tell them apart.

/** An Error whose `name` is `name` (say, 'BadMagicError'). */
function codecError( name, message ) {

	const error = new Error( message );
	error.name = name;
	return error;

}

/** The commonest of them: a payload that breaks its profile's layout. */
function corruptPayloadError( message ) {

	return codecError( 'CorruptPayloadError', message );

}

export { codecError, corruptPayloadError };
