package infra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
)

// envName is what an environment variable name looks like; a constant
// string of another shape passed to a func(string) string variable is not
// taken for one.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// EnvReads finds, for each main package (a folder relative to root, e.g.
// "lambdas/connect"), the environment variables its main function can
// read. It type-checks the module's packages and follows every function and
// method of the module that main refers to, directly or through the
// functions it refers to, and collects the constant names passed to
// os.Getenv, os.LookupEnv, and to variables of type func(string) string
// (the getenv a main hands to app.ReadLambdaEnv). Calls through interfaces
// are not followed. A non-constant name passed to os.Getenv or
// os.LookupEnv is an error: what it reads cannot be known.
//
// Dependencies outside the module are read from export data built with the
// Lambda flags of the host (CGO_ENABLED=0, -trimpath, -tags lambda.norpc),
// which the Lambda builds leave in the build cache.
func EnvReads(ctx context.Context, root string, dirs ...string) (map[string][]string, error) {
	args := []string{"list", "-e", "-deps", "-export", "-trimpath", "-tags", "lambda.norpc",
		"-json=ImportPath,Name,Dir,GoFiles,Export,Module,Error,DepsErrors"}
	for _, d := range dirs {
		args = append(args, "./"+filepath.ToSlash(d))
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.Bytes())
	}
	type pkgErr struct{ Err string }
	type listed struct {
		ImportPath, Name, Dir, Export string
		GoFiles                       []string
		Module                        *struct{ Path string }
		Error                         *pkgErr
		DepsErrors                    []*pkgErr
	}
	var pkgs []*listed
	dec := json.NewDecoder(&stdout)
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, &p)
	}
	modulePath := ""
	byDir := map[string]*listed{}
	for _, p := range pkgs {
		byDir[p.Dir] = p
	}
	mains := map[string]*listed{} // dir argument → package
	for _, d := range dirs {
		abs, err := filepath.Abs(filepath.Join(root, d))
		if err != nil {
			return nil, err
		}
		p, ok := byDir[abs]
		if !ok || p.Name != "main" {
			return nil, fmt.Errorf("%s is not a main package", d)
		}
		mains[d] = p
		if p.Module != nil {
			modulePath = p.Module.Path
		}
	}
	exports := map[string]string{}
	for _, p := range pkgs {
		if p.Export != "" {
			exports[p.ImportPath] = p.Export
		}
	}
	fset := token.NewFileSet()
	gc := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	a := &envAnalysis{
		fset: fset, decls: map[*types.Func]*ast.FuncDecl{}, infos: map[*types.Func]*types.Info{},
		checked: map[string]*types.Package{},
	}
	imp := importerFunc(func(path string) (*types.Package, error) {
		if p, ok := a.checked[path]; ok {
			return p, nil
		}
		return gc.Import(path)
	})
	// go list -deps lists dependencies before their dependents, so every
	// module package is checked before the packages that import it.
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != modulePath {
			continue
		}
		if err := a.check(p.ImportPath, p.Dir, p.GoFiles, imp); err != nil {
			return nil, err
		}
	}
	out := map[string][]string{}
	for d, p := range mains {
		main, ok := a.checked[p.ImportPath].Scope().Lookup("main").(*types.Func)
		if !ok {
			return nil, fmt.Errorf("%s has no func main", d)
		}
		names, err := a.reads(main)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		out[d] = names
	}
	return out, nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

type envAnalysis struct {
	fset    *token.FileSet
	checked map[string]*types.Package
	decls   map[*types.Func]*ast.FuncDecl
	infos   map[*types.Func]*types.Info
}

func (a *envAnalysis) check(path, dir string, files []string, imp types.Importer) error {
	var parsed []*ast.File
	for _, f := range files {
		af, err := parser.ParseFile(a.fset, filepath.Join(dir, f), nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		parsed = append(parsed, af)
	}
	info := &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
	}
	conf := types.Config{Importer: imp}
	pkg, err := conf.Check(path, a.fset, parsed, info)
	if err != nil {
		return fmt.Errorf("type-check %s: %w", path, err)
	}
	a.checked[path] = pkg
	for _, f := range parsed {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				if fn, ok := info.Defs[fd.Name].(*types.Func); ok {
					a.decls[fn] = fd
					a.infos[fn] = info
				}
			}
		}
	}
	return nil
}

// reads walks everything main refers to and returns the sorted names read.
func (a *envAnalysis) reads(main *types.Func) ([]string, error) {
	seen := map[*types.Func]bool{main: true}
	queue := []*types.Func{main}
	names := map[string]bool{}
	var errs []error
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		decl, info := a.decls[fn], a.infos[fn]
		ast.Inspect(decl.Body, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.Ident:
				if f, ok := info.Uses[x].(*types.Func); ok {
					if f = f.Origin(); !seen[f] && a.decls[f] != nil {
						seen[f] = true
						queue = append(queue, f)
					}
				}
			case *ast.CallExpr:
				name, ok, err := a.envRead(info, x)
				if err != nil {
					errs = append(errs, err)
				} else if ok {
					names[name] = true
				}
			}
			return true
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// envRead reports the variable a call reads, if it is an environment read.
func (a *envAnalysis) envRead(info *types.Info, call *ast.CallExpr) (string, bool, error) {
	if len(call.Args) != 1 {
		return "", false, nil
	}
	var obj types.Object
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		obj = info.Uses[f]
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[f]; ok {
			obj = sel.Obj()
		} else {
			obj = info.Uses[f.Sel]
		}
	}
	arg := info.Types[call.Args[0]]
	name, isConst := "", arg.Value != nil && arg.Value.Kind() == constant.String
	if isConst {
		name = constant.StringVal(arg.Value)
	}
	switch o := obj.(type) {
	case *types.Func:
		if o.Pkg() == nil || o.Pkg().Path() != "os" || (o.Name() != "Getenv" && o.Name() != "LookupEnv") {
			return "", false, nil
		}
		if !isConst {
			return "", false, fmt.Errorf("%s: os.%s with a name that is not a constant", a.fset.Position(call.Pos()), o.Name())
		}
		return name, true, nil
	case *types.Var:
		sig, ok := o.Type().Underlying().(*types.Signature)
		if !ok || sig.Params().Len() != 1 || sig.Results().Len() < 1 ||
			!types.Identical(sig.Params().At(0).Type(), types.Typ[types.String]) ||
			!types.Identical(sig.Results().At(0).Type(), types.Typ[types.String]) {
			return "", false, nil
		}
		if isConst && envName.MatchString(name) {
			return name, true, nil
		}
	}
	return "", false, nil
}
