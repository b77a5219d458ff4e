//go:build !linux

package disk

import (
	"context"
	"errors"
	"time"
)

func listenUevents(ctx context.Context, debounce time.Duration) (<-chan struct{}, error) {
	return nil, errors.New("kernel uevents are only available on Linux")
}
