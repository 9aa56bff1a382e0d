package adopt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// maxConfigBody bounds the start and update bodies the proxy reads; both
// are a few hundred bytes from any client.
const maxConfigBody = 1 << 20

// start forwards POST /containers/{id}/start without a body. dockerd before
// API 1.24 decodes a HostConfig from a start body longer than 7 bytes (or
// chunked) and replaces the container's with it (setHostConfig): even
// {"Memory":0} would reset the adopted CgroupParent. So a body is accepted
// only when it asks for nothing (empty, {} or null), and dockerd never
// receives one; any other is refused, whatever the API version, without
// asking dockerd what the container has.
func (c *conn) start(ctx context.Context, head []byte, h *reqHead) (bool, error) {
	if h.framing.kind == noBody {
		return c.forward(h, head)
	}
	body, err := c.readBody(h, maxConfigBody)
	if err != nil {
		return false, c.refuse(http.StatusBadRequest, fmt.Sprintf("envbox adopt-proxy: read container start body: %v", err), true)
	}
	if err := emptyConfig(body); err != nil {
		return c.refuseRead(ctx, h, fmt.Sprintf("envbox adopt-proxy: %s %s from pid %d refused: a start body is a HostConfig (API < 1.24) "+
			"that would replace the one the container was adopted with: %v; set configuration at create", h.method, h.target, c.peer.PID, err))
	}
	return c.sendWhole(h, withLength(head, 0))
}

// emptyConfig accepts a body that configures nothing: only JSON white
// space, null, or an object without members.
func emptyConfig(body []byte) error {
	switch t := bytes.TrimSpace(body); {
	case len(t) == 0, string(t) == "null":
		return nil
	}
	fs, err := decodeObject(body)
	if err != nil {
		return fmt.Errorf("body %q: %w", clip(body), err)
	}
	if len(fs) > 0 {
		return fmt.Errorf("body sets %q", fs[0].Key)
	}
	return nil
}

// update checks POST /containers/{id}/update. Its body is Resources (which
// has a CgroupParent member) and RestartPolicy; dockerd applies only limits
// on update, but a body naming a cgroup parent is refused rather than
// trusted to be ignored. The body is forwarded as received.
func (c *conn) update(ctx context.Context, head []byte, h *reqHead) (bool, error) {
	body, err := c.readBody(h, maxConfigBody)
	if err != nil {
		return false, c.refuse(http.StatusBadRequest, fmt.Sprintf("envbox adopt-proxy: read container update body: %v", err), true)
	}
	if err := noCgroupParent(body); err != nil {
		return c.refuseRead(ctx, h, fmt.Sprintf("envbox adopt-proxy: %s %s from pid %d refused: %v", h.method, h.target, c.peer.PID, err))
	}
	return c.sendWhole(h, append(withLength(head, len(body)), body...))
}

func noCgroupParent(body []byte) error {
	fs, err := decodeObject(body)
	if err == nil {
		var i int
		if i, err = find(fs, "CgroupParent"); err == nil {
			return checkUnset(fs, i)
		}
	}
	return fmt.Errorf("parse body %q: %w", clip(body), err)
}

func checkUnset(fs []field, i int) error {
	if i < 0 || isNull(fs[i].Value) {
		return nil
	}
	var s string
	if err := json.Unmarshal(fs[i].Value, &s); err != nil || s != "" {
		return fmt.Errorf("CgroupParent %s: a container's cgroup parent is set at create, by the proxy", fs[i].Value)
	}
	return nil
}
