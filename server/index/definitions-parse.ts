/**
 * The definitions of a source file (functions, classes, methods, types...) as tree-sitter finds
 * them: what the index cuts files at (chunker.ts). Runs in the index's parse worker
 * (definitions-worker.ts): a grammar that loops on some input costs that file its definitions, not
 * the server (see syntax-parse.ts).
 */
import type Parser from 'web-tree-sitter';
import { parserFor } from '../syntax-parse';

export interface Definition {
  /** First and last line, 0-based, inclusive. */
  startLine: number;
  endLine: number;
  /** Its name, where the grammar gives one. */
  name?: string;
  /** 0: top level (or inside wrappers only); 1: a member of a top-level definition. */
  depth: number;
}

/** Node types that are definitions, across the grammars of server/languages.ts. */
const DEFINITIONS = new Set([
  // Python, C, C++, bash
  'function_definition',
  'class_definition',
  // JavaScript, TypeScript, Go, Lua
  'function_declaration',
  'generator_function_declaration',
  'class_declaration',
  'abstract_class_declaration',
  'method_definition',
  'interface_declaration',
  'enum_declaration',
  'type_alias_declaration',
  'internal_module',
  'local_function',
  // Java, C#, Go
  'method_declaration',
  'constructor_declaration',
  'record_declaration',
  'struct_declaration',
  'namespace_declaration',
  'type_declaration',
  // Rust
  'function_item',
  'impl_item',
  'struct_item',
  'enum_item',
  'trait_item',
  'mod_item',
  // C, C++
  'struct_specifier',
  'class_specifier',
  'namespace_definition',
  // Ruby
  'method',
  'singleton_method',
  'class',
  'module',
]);
/** Nodes around a definition that belong to it (decorators, `export`, `template <...>`). */
const WRAPPERS = new Set(['decorated_definition', 'export_statement', 'template_declaration']);
/** Members are looked for this deep (a class's methods), not further (a method's local functions). */
const MAX_DEPTH = 1;

function nameOf(node: Parser.SyntaxNode): string | undefined {
  for (let n: Parser.SyntaxNode | null = node, i = 0; n && i < 6; i++) {
    const name = n.childForFieldName('name');
    if (name) return name.text.slice(0, 80);
    // C declarators nest (pointer_declarator > function_declarator > identifier); Go keeps the name in type_spec.
    n = n.childForFieldName('declarator') ?? n.namedChildren.find((c) => c.type === 'type_spec') ?? null;
    if (n?.type === 'identifier' || n?.type === 'field_identifier') return n.text.slice(0, 80);
  }
  return undefined;
}

/** The line a node ends on, not counting a trailing newline it includes. */
function lastLine(n: Parser.SyntaxNode): number {
  const { row, column } = n.endPosition;
  return column === 0 && row > n.startPosition.row ? row - 1 : row;
}

export function collectDefinitions(root: Parser.SyntaxNode): Definition[] {
  const out: Definition[] = [];
  const visit = (node: Parser.SyntaxNode, depth: number, wrapperStart?: number) => {
    for (const child of node.namedChildren) {
      if (WRAPPERS.has(child.type)) {
        visit(child, depth, wrapperStart ?? child.startPosition.row);
        continue;
      }
      if (DEFINITIONS.has(child.type)) {
        out.push({ startLine: wrapperStart ?? child.startPosition.row, endLine: lastLine(child), name: nameOf(child), depth });
        if (depth < MAX_DEPTH) visit(child, depth + 1);
      } else if (depth === 0 || child.namedChildCount > 0) {
        // Class bodies, namespaces, blocks: their definitions are this definition's members.
        visit(child, depth);
      }
    }
  };
  visit(root, 0);
  return out.sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
}

export async function parseDefinitions(runtimeWasm: string, grammarWasm: string, src: string): Promise<Definition[]> {
  const parser = await parserFor(runtimeWasm, grammarWasm);
  const tree = parser.parse(src);
  try {
    return collectDefinitions(tree.rootNode);
  } finally {
    tree.delete();
  }
}
