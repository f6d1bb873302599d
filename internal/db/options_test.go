package db_test

import (
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
)

func TestOptionsFromEnv(t *testing.T) {
	def := db.DefaultOptions()
	tests := []struct {
		name    string
		env     map[string]string
		want    func(o *db.Options)
		wantErr string // the variable the error must name
	}{
		{"defaults", nil, func(*db.Options) {}, ""},
		{"all set", map[string]string{
			"INDEXER_BUSY_TIMEOUT": "250ms", "INDEXER_CONN_MAX_LIFETIME": "2m",
			"INDEXER_READ_CONNS": "9", "INDEXER_BUSY_RETRIES": "0",
		}, func(o *db.Options) {
			o.BusyTimeout, o.ConnMaxLifetime, o.ReadConns, o.BusyRetries = 250*time.Millisecond, 2*time.Minute, 9, 0
		}, ""},
		{"bad duration", map[string]string{"INDEXER_BUSY_TIMEOUT": "5"}, nil, "INDEXER_BUSY_TIMEOUT"},
		{"negative duration", map[string]string{"INDEXER_CONN_MAX_LIFETIME": "-1s"}, nil, "INDEXER_CONN_MAX_LIFETIME"},
		{"no read connection", map[string]string{"INDEXER_READ_CONNS": "0"}, nil, "INDEXER_READ_CONNS"},
		{"negative retries", map[string]string{"INDEXER_BUSY_RETRIES": "-1"}, nil, "INDEXER_BUSY_RETRIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []string{"INDEXER_BUSY_TIMEOUT", "INDEXER_CONN_MAX_LIFETIME", "INDEXER_READ_CONNS", "INDEXER_BUSY_RETRIES"} {
				t.Setenv(v, tt.env[v])
			}
			got, err := db.OptionsFromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("OptionsFromEnv() = %v; want an error naming %s", err, tt.wantErr)
				}
				return
			}
			want := def
			tt.want(&want)
			if err != nil || got != want {
				t.Errorf("OptionsFromEnv() = %+v, %v; want %+v", got, err, want)
			}
		})
	}
	if def.BusyTimeout <= 0 || def.ReadConns < 1 || def.BusyRetries < 1 || def.ConnMaxLifetime <= 0 || def.MustExist {
		t.Errorf("DefaultOptions() = %+v; want positive settings and MustExist off", def)
	}
}
