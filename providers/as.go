package providers

// Unwrapper is implemented by a provider that wraps another (split mode's
// relayed provider wraps an in-process one). The wrapper implements only
// what it changes; As finds every other ability on the provider it wraps,
// so a wrapper neither hides an ability of the wrapped provider nor claims
// one the wrapped provider lacks.
type Unwrapper interface {
	// Unwrap returns the wrapped provider.
	Unwrap() Provider
}

// As finds the optional ability T (Archiver, PIDReporter, ...) of the
// provider p: on p itself, else on what p unwraps to, and so on down the
// chain of Unwrapper, as errors.As does for errors. ok is false when no
// provider of the chain has T. Every lookup of an optional ability goes
// through As; a plain type assertion would miss the abilities of a
// wrapped provider.
//
// A wrapper that must not let an ability of the wrapped provider through
// (one whose meaning the wrapper changes) implements it itself: the
// outermost provider that has T answers.
//
// p is any value holding a provider: callers keep narrower interfaces of
// one (a router's Provider lists only what it calls).
func As[T any](p any) (T, bool) {
	for p != nil {
		if t, ok := p.(T); ok {
			return t, true
		}
		u, ok := p.(Unwrapper)
		if !ok {
			break
		}
		inner := u.Unwrap()
		if inner == nil {
			break
		}
		p = inner
	}
	var zero T
	return zero, false
}
