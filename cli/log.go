package cli

import (
	"fmt"
	"io"
	"os"

	"cdr.dev/slog"
	"cdr.dev/slog/sloggers/sloghuman"
	"cdr.dev/slog/sloggers/slogjson"

	"github.com/envbox/envbox/xunix"
)

const envLogFormat = "ENVBOX_LOG_FORMAT"

// newLogger returns a JSON logger, or a human one when format is "human" or
// empty on a terminal.
func newLogger(w io.Writer, format string, debug bool) (slog.Logger, error) {
	var sink slog.Sink
	switch format {
	case "json":
		sink = slogjson.Sink(w)
	case "human":
		sink = sloghuman.Sink(w)
	case "":
		if f, ok := w.(*os.File); ok && xunix.IsTerminal(f.Fd()) {
			sink = sloghuman.Sink(w)
		} else {
			sink = slogjson.Sink(w)
		}
	default:
		return slog.Logger{}, fmt.Errorf("parse %s=%q: want \"json\" or \"human\"", envLogFormat, format)
	}
	log := slog.Make(sink)
	if debug {
		log = log.Leveled(slog.LevelDebug)
	}
	return log, nil
}
