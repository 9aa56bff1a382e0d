package adopt

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// writeError writes a Docker-style error response: a JSON body
// {"message": "..."} that the docker CLI prints as
// "Error response from daemon: ...".
func writeError(w io.Writer, status int, msg string, closing bool) error {
	body, err := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	if err != nil {
		return err
	}
	conn := ""
	if closing {
		conn = "Connection: close\r\n"
	}
	_, err = fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s\n",
		status, http.StatusText(status), conn, len(body)+1, body)
	return err
}
