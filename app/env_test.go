package app

import "testing"

func TestReadLambdaEnvViewsTable(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    string
		invalid bool
	}{
		{"VIEWS_TABLE", map[string]string{"VIEWS_TABLE": "v", "REQUESTS_TABLE": "r"}, "v", false},
		{"origin REQUESTS_TABLE", map[string]string{"REQUESTS_TABLE": "r"}, "r", false},
		{"origin CONNECTIONS_TABLE", map[string]string{"CONNECTIONS_TABLE": "c"}, "c", false},
		{"origin names, same table", map[string]string{"REQUESTS_TABLE": "t", "CONNECTIONS_TABLE": "t"}, "t", false},
		{"origin names, two tables", map[string]string{"REQUESTS_TABLE": "r", "CONNECTIONS_TABLE": "c"}, "r", true},
		{"none", map[string]string{}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			env := ReadLambdaEnv(getenv)
			if env.ViewsTable != tc.want {
				t.Fatalf("views table %q, want %q", env.ViewsTable, tc.want)
			}
			if err := env.Validate(getenv); (err != nil) != tc.invalid {
				t.Fatalf("Validate() = %v, want invalid %v", err, tc.invalid)
			}
		})
	}
}
