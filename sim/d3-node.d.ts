/** d3-node ships no types; this is the part of its API the charts use (d3 itself stays untyped). */
declare module 'd3-node' {
  export class D3Node {
    constructor(options?: { styles?: string });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    readonly d3: any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    createSVG(width: number, height: number, attrs?: Record<string, string | number>): any;
    svgString(): string;
  }
}
