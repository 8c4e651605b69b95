//go:build !linux

package treesync

// notifier watches nothing here: every scan is a full walk.
type notifier struct{ unwatched string }

func newNotifier() notifier { return notifier{unwatched: "watching is implemented on Linux only"} }

func (n *notifier) close() {}

// refresh walks the whole tree.
func (w *Watcher) refresh() error {
	if w.closed {
		return ErrClosed
	}
	w.m, w.order = nil, nil
	m, err := Scan(w.root)
	if err != nil {
		return err
	}
	w.m = m
	w.stats.Full++
	w.stats.Unwatched = w.n.unwatched
	return nil
}
