package records

import (
	"context"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// Network is a network's stored record. Its subnet is one of its unique
// names ("subnet:172.18.0.0/16"), so two creates racing for the same pool
// entry cannot both win.
type Network struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Created     time.Time         `json:"created"`
	Driver      string            `json:"driver"`
	Scope       string            `json:"scope"`
	Internal    bool              `json:"internal,omitempty"`
	Attachable  bool              `json:"attachable,omitempty"`
	Ingress     bool              `json:"ingress,omitempty"`
	EnableIPv4  bool              `json:"enableIPv4"`
	EnableIPv6  bool              `json:"enableIPv6,omitempty"`
	IPAMDriver  string            `json:"ipamDriver"`
	IPAM        []IPAMConfig      `json:"ipam,omitempty"`
	IPAMOptions map[string]string `json:"ipamOptions,omitempty"`
	Options     map[string]string `json:"options,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	// Allocated maps an address to the container holding it.
	Allocated map[string]string `json:"allocated,omitempty"`
	// Predefined marks bridge, host and none, which cannot be removed.
	Predefined bool `json:"predefined,omitempty"`
}

// IPAMConfig is one subnet of a network.
type IPAMConfig struct {
	Subnet  string `json:"subnet,omitempty"`
	IPRange string `json:"ipRange,omitempty"`
	Gateway string `json:"gateway,omitempty"`
}

var networks = kind[Network]{
	name: KindNetwork,
	id:   func(n *Network) string { return n.ID },
	names: func(n *Network) []string {
		names := []string{n.Name}
		for _, c := range n.IPAM {
			if c.Subnet != "" {
				names = append(names, "subnet:"+c.Subnet)
			}
		}
		return names
	},
}

// ErrNoSuchNetwork is the error Docker gives for an unknown network.
func ErrNoSuchNetwork(ref string) error { return errdefs.NotFoundf("network %s not found", ref) }

// CreateNetwork stores a new network, reserving its name and subnets.
func (st *Store) CreateNetwork(ctx context.Context, n *Network) error {
	return networks.create(ctx, st.s, n)
}

// Network resolves ref (id, name or unique id prefix).
func (st *Store) Network(ctx context.Context, ref string) (*Network, error) {
	return resolve(ctx, st.s, networks, ref, func() error { return ErrNoSuchNetwork(ref) })
}

// UpdateNetwork applies fn to network id with optimistic concurrency.
func (st *Store) UpdateNetwork(ctx context.Context, id string, fn func(*Network) error) (*Network, error) {
	n, err := networks.mutate(ctx, st.s, id, fn, Change[Network]{})
	if errdefs.IsNotFound(err) {
		return nil, ErrNoSuchNetwork(id)
	}
	return n, err
}

// DeleteNetwork removes network id.
func (st *Store) DeleteNetwork(ctx context.Context, id string) error {
	err := networks.delete(ctx, st.s, id, 0)
	if errdefs.IsNotFound(err) {
		return ErrNoSuchNetwork(id)
	}
	return err
}

// Networks lists every network.
func (st *Store) Networks(ctx context.Context) ([]*Network, error) {
	return networks.list(ctx, st.s, "")
}
