package agent

import "github.com/sockerless/sockerless/internal/treesync"

// CarryWatching is the optional ability of a Carrier to keep its carried
// trees watched between carries, so a push's manifest and a pull's delta
// cost what changed rather than a walk of the whole tree.
type CarryWatching interface {
	CarryWatchers() *treesync.Watchers
}

// maxCarryWatchers bounds the watched trees of one workload (each holds
// an inotify instance); more binds are walked at each carry.
const maxCarryWatchers = 16

// CarryWatchers implements CarryWatching: the watchers of the carried
// binds of this filesystem, keyed by destination, made at their first
// carry and kept until Close (the agent's lifetime).
func (a *FSArchiver) CarryWatchers() *treesync.Watchers {
	a.watchOnce.Do(func() { a.watchers = treesync.NewWatchers(maxCarryWatchers) })
	return a.watchers
}

// Close closes the carried binds' watchers.
func (a *FSArchiver) Close() error {
	a.CarryWatchers().Close()
	return nil
}
