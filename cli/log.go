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
	sink, err := newSink(w, format)
	if err != nil {
		return slog.Logger{}, err
	}
	log := slog.Make(sink)
	if debug {
		log = log.Leveled(slog.LevelDebug)
	}
	return log, nil
}

// newSink picks the sink newLogger uses; callers that filter entries (the
// secret redaction of `envbox docker`) wrap it.
func newSink(w io.Writer, format string) (slog.Sink, error) {
	switch format {
	case "json":
		return slogjson.Sink(w), nil
	case "human":
		return sloghuman.Sink(w), nil
	case "":
		if f, ok := w.(*os.File); ok && xunix.IsTerminal(f.Fd()) {
			return sloghuman.Sink(w), nil
		}
		return slogjson.Sink(w), nil
	default:
		return nil, fmt.Errorf("parse %s=%q: want \"json\" or \"human\"", envLogFormat, format)
	}
}
